using System.CommandLine;
using System.CommandLine.Help;
using Conway.Cli.CommandLine;

namespace Conway.Cli.Tests;

public sealed class HelpTests
{
    public static TheoryData<string> Verbs => ["train", "eval", "bench", "kernels", "load", "rollouts"];

    [Fact]
    public void Conway_help_lists_every_verb()
    {
        var result = ConwayRun.With("--help");

        Assert.Equal(0, result.ExitCode);
        foreach (string verb in Verbs) Assert.Matches($@"(?m)^\s+{verb}\b", result.Stdout);
        Assert.Contains("help <", result.Stdout);
    }

    [Theory]
    [MemberData(nameof(Verbs))]
    public void Help_long_short_and_the_help_verb_all_print_the_same_text_and_exit_0(string verb)
    {
        var longForm = ConwayRun.With(verb, "--help");
        var shortForm = ConwayRun.With(verb, "-h");
        var helpVerb = ConwayRun.With("help", verb);

        Assert.Equal((0, 0, 0), (longForm.ExitCode, shortForm.ExitCode, helpVerb.ExitCode));
        Assert.Equal("", longForm.Stderr);
        Assert.Contains($" {verb} [options]", longForm.Stdout);     // "conway", or the test host, then the verb
        Assert.Equal(longForm.Stdout, shortForm.Stdout);
        Assert.Equal(longForm.Stdout, helpVerb.Stdout);
    }

    [Theory]
    [MemberData(nameof(Verbs))]
    public void Help_lists_every_option_of_the_verb_with_its_default_and_meaning(string verb)
    {
        var command = ConwayCli.Create().Subcommands.Single(c => c.Name == verb);
        var options = command.Options.Where(o => o is not HelpOption).ToList();
        string help = ConwayRun.With(verb, "--help").Stdout;

        Assert.NotEmpty(options);
        foreach (var option in options)
        {
            // the option's entry: from its name to the next option's name (long descriptions wrap)
            int start = help.IndexOf($"  {option.Name} ", StringComparison.Ordinal);
            Assert.True(start >= 0, $"conway {verb} --help does not list {option.Name}");
            int end = options.Select(o => help.IndexOf($"  {o.Name} ", start + 1, StringComparison.Ordinal)).Where(i => i > start).DefaultIfEmpty(help.Length).Min();
            string entry = help[start..end];
            Assert.False(string.IsNullOrWhiteSpace(option.Description), $"{option.Name} has no description");
            Assert.Contains("[default: ", entry);
        }
    }

    [Fact]
    public void Load_defaults_to_the_url_the_service_listens_on_when_run_as_the_readme_says()
    {
        // `dotnet run --project Conway.Api` has no launch settings or URLs configured: Kestrel's default, localhost:5000
        Assert.Contains("[default: http://localhost:5000]", ConwayRun.With("load", "--help").Stdout);
    }
}
