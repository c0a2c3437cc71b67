namespace Conway.Cli.CommandLine;

/// <summary>The command line this process was started with, as <c>conway verb --option value</c> (recorded in reports and cards).</summary>
public static class CommandLineText
{
    public static string Current() =>
        "conway " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1).Select(a => a.Contains(' ') ? $"\"{a}\"" : a));
}
