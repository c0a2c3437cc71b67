using Conway.Cli.CommandLine;

namespace Conway.Cli.Tests;

/// <summary>Runs <c>conway</c> in this process, as its Program does, capturing stdout and stderr.</summary>
internal static class ConwayRun
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public string[] StderrLines => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    public static Result With(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = ConwayCli.Run(args, stdout, stderr);
        return new Result(code, stdout.ToString(), stderr.ToString());
    }
}
