using System.CommandLine;
using System.Text.RegularExpressions;
using System.CommandLine.Help;
using Conway.Checkpoints;
using Conway.Cli.Commands;

namespace Conway.Cli.CommandLine;

/// <summary>
/// <c>conway &lt;verb&gt; [options]</c>: the verbs, --help for each, and one rule for mistakes: a parse error, a missing
/// file or an unusable checkpoint is one line on stderr and exit code 2; the work itself exits 0 (or 1 where a verb
/// says so, e.g. load's wrong answers).
/// </summary>
public static class ConwayCli
{
    public const int UsageError = 2;

    public static RootCommand Create()
    {
        var root = new RootCommand("conway: LifeGPT's offline tools (training, evaluation, benchmarks, HTTP load tests). " +
                                   "Results go to stdout, progress to stderr.");
        Command[] verbs = [TrainCommand.Create(), EvalCommand.Create(), BenchCommand.Create(), KernelsCommand.Create(), LoadCommand.Create(), RolloutsCommand.Create()];
        foreach (var verb in verbs) root.Add(verb);
        root.Add(HelpCommand.Create(root));
        return root;
    }

    public static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        var root = Create();
        var parsed = root.Parse(args);
        string who = parsed.CommandResult.Command is RootCommand ? "conway" : $"conway {parsed.CommandResult.Command.Name}";
        if (parsed.Errors.Count > 0 && parsed.Action is not HelpAction)
        {
            error.WriteLine($"{who}: {OneLine(parsed.Errors.Select(e => e.Message))} (see '{who} --help')");
            return UsageError;
        }
        try
        {
            return parsed.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (e is CliUsageException or CheckpointException)
        {
            error.WriteLine($"{who}: {OneLine([e.Message])}");
            return UsageError;
        }
    }

    /// <summary>The messages on one line; "no verb" only where nothing more telling was found (e.g. an unknown verb).</summary>
    private static string OneLine(IEnumerable<string> messages)
    {
        var lines = messages.Select(m => Regex.Replace(m, @"\s+", " ").Trim().TrimEnd('.')).Distinct().ToList();
        if (lines.Count > 1) lines.RemoveAll(m => m == "Required command was not provided");
        return string.Join("; ", lines);
    }
}
