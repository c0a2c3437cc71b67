using System.CommandLine;

namespace Conway.Cli.Commands;

/// <summary><c>conway help [verb]</c>: the same as <c>conway [verb] --help</c>.</summary>
public static class HelpCommand
{
    public static Command Create(RootCommand root)
    {
        var verb = new Argument<string?>("verb") { Description = "the verb to explain", Arity = ArgumentArity.ZeroOrOne };
        verb.AcceptOnlyFromAmong([.. root.Subcommands.Select(c => c.Name)]);
        var command = new Command("help", "what a verb does and its options (the same as conway <verb> --help)") { verb };
        command.SetAction(parsed =>
        {
            string? name = parsed.GetValue(verb);
            return root.Parse(name is null ? ["--help"] : [name, "--help"]).Invoke(parsed.InvocationConfiguration);
        });
        return command;
    }
}
