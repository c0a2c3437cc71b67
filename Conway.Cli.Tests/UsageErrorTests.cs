using Conway.Boards;
using Conway.Cli.CommandLine;

namespace Conway.Cli.Tests;

/// <summary>Mistakes on the command line: exit code 2, one line on stderr naming the mistake, nothing on stdout, no work done.</summary>
public sealed class UsageErrorTests
{
    [Theory]
    [InlineData("--strategies is a comma-separated list of speculative or autoregressive, not 'foo'", "bench", "--strategies", "foo")]
    [InlineData("--strategies is a comma-separated list", "bench", "--strategies", "speculative,foo")]
    [InlineData("--batches-speculative is a comma-separated list of whole numbers of at least 1, not '1,0'", "bench", "--batches-speculative", "1,0")]
    [InlineData("--precision is auto, bf16 or fp32, not 'fp16'", "bench", "--precision", "fp16")]
    [InlineData("--flip-margins is a comma-separated list of numbers of at least 0, not '0.5,-1'", "bench", "--flip-margins", "0.5,-1")]
    [InlineData("--flip-margins is a comma-separated list of numbers of at least 0, not 'NaN'", "bench", "--flip-margins", "NaN")]
    [InlineData("--boards is a whole number of at least 0, not 'many'", "eval", "--boards", "many")]
    [InlineData("--boards is a whole number of at least 0, not '-3'", "eval", "--boards", "-3")]
    [InlineData("--strategy is speculative or autoregressive, not 'greedy'", "eval", "--strategy", "greedy")]
    [InlineData("--device is auto, cpu, cuda or cuda:N, not 'gpu'", "eval", "--device", "gpu")]
    [InlineData("Unrecognized command or argument '--bogus'", "eval", "--bogus")]
    [InlineData("Required argument missing for option: '--model'", "eval", "--model")]
    [InlineData("--lr is a number of at least 0, not '1e-3x'", "train", "--lr", "1e-3x")]
    [InlineData("--steps is a whole number of at least 1, not '0'", "train", "--steps", "0")]
    [InlineData("--precision is bf16, tf32 or fp32, not 'auto'", "train", "--precision", "auto")]
    [InlineData("--hard-boards: no file nowhere.txt", "train", "--hard-boards", "nowhere.txt")]
    [InlineData("--init: no file nowhere.safetensors", "train", "--init", "nowhere.safetensors")]
    [InlineData("--boards-file: no file nowhere.txt", "eval", "--boards-file", "nowhere.txt")]
    [InlineData("--soup-steps is a whole number of at least 1, not '0'", "eval", "--soups", "2", "--soup-steps", "0")]
    [InlineData("--kernels is auto, fused or libtorch, not 'triton'", "eval", "--kernels", "triton")]
    [InlineData("--kernels is a comma-separated list of auto, fused or libtorch, not 'fused,triton'", "bench", "--kernels", "fused,triton")]
    [InlineData("--url is an http(s) URL on loopback", "load", "--url", "http://example.com")]
    [InlineData("--concurrency is a whole number of at least 1, not '0'", "load", "--concurrency", "0")]
    [InlineData("--url is an http(s) URL on loopback", "rollouts", "--url", "http://example.com")]
    [InlineData("--concurrent is a comma-separated list of whole numbers of at least 1, not '1,0'", "rollouts", "--concurrent", "1,0")]
    [InlineData("--steps is a whole number of at least 1, not '0'", "rollouts", "--steps", "0")]
    [InlineData("--feed is model or rule, not 'teacher'", "rollouts", "--feed", "teacher")]
    [InlineData("--timeout is a whole number of at least 1, not 'soon'", "rollouts", "--timeout", "soon")]
    public void A_bad_value_or_an_unknown_option_is_a_usage_error_naming_it(string message, params string[] args)
    {
        var result = ConwayRun.With(args);

        AssertUsageError(result, $"conway {args[0]}: ", message);
    }

    [Theory]
    [InlineData("frob")]
    [InlineData()]
    public void An_unknown_or_missing_verb_is_a_usage_error(params string[] args)
    {
        var result = ConwayRun.With(args);

        AssertUsageError(result, "conway: ", args.Length == 0 ? "Required command was not provided" : "Unrecognized command or argument 'frob'");
        Assert.Contains("conway --help", result.Stderr);
    }

    [Fact]
    public void Help_for_an_unknown_verb_is_a_usage_error_on_one_line()
    {
        AssertUsageError(ConwayRun.With("help", "frob"), "conway help: ", "'frob'");
    }

    [Theory]
    [InlineData("eval")]
    [InlineData("bench")]
    public void A_missing_model_file_is_a_usage_error_saying_where_it_looked(string verb)
    {
        using var folder = new TempFolder();
        string missing = folder.File("missing.safetensors");

        var result = ConwayRun.With(verb, "--model", missing, "--device", "cpu");

        AssertUsageError(result, $"conway {verb}: ", $"--model: no file {missing}");
    }

    [Fact]
    public void A_missing_test_set_given_on_the_command_line_is_a_usage_error()
    {
        using var folder = new TempFolder();
        string missing = folder.File("paper.csv");

        AssertUsageError(ConwayRun.With("eval", "--paper-10", missing), "conway eval: ", $"--paper-10: no file {missing}");
    }

    [Fact]
    public void A_malformed_test_set_is_a_usage_error_naming_the_line()
    {
        using var folder = new TempFolder();
        File.WriteAllText(folder.File("paper.csv"), "State 1,State 2\n0101,0000\n");

        var result = ConwayRun.With("eval", "--paper-10", folder.File("paper.csv"), "--skip-rollouts");

        AssertUsageError(result, "conway eval: ", "--paper-10: paper.csv, line 2, State 1");
    }

    [Theory]
    [InlineData("0101", "--hard-boards: hard.txt, line 2: A flattened board has 1024 cells; got 4")]
    [InlineData("", "--hard-boards: hard.txt holds no boards")]
    public void Hard_boards_that_are_not_one_board_a_line_are_a_usage_error_before_training(string secondLine, string message)
    {
        using var folder = new TempFolder();
        File.WriteAllText(folder.File("hard.txt"), (secondLine == "" ? "" : Board.Empty.ToCells()) + "\n" + secondLine + "\n");

        var result = ConwayRun.With("train", "--hard-boards", folder.File("hard.txt"), "--out", folder.File("run"));

        AssertUsageError(result, "conway train: ", message);
        Assert.False(Directory.Exists(folder.File("run")), "training started");
    }

    [Theory]
    [InlineData("0")]
    [InlineData("1.5")]
    public void A_hard_share_outside_0_to_1_is_a_usage_error(string share)
    {
        using var folder = new TempFolder();
        File.WriteAllText(folder.File("hard.txt"), Board.Empty.ToCells());

        var result = ConwayRun.With("train", "--hard-boards", folder.File("hard.txt"), "--hard-share", share, "--out", folder.File("run"));

        AssertUsageError(result, "conway train: ", $"--hard-share is a number above 0 and at most 1, not '{share}'");
    }

    [Fact]
    public void Rollout_steps_beyond_the_trajectories_are_a_usage_error_before_the_model_loads()
    {
        using var folder = new TempFolder();
        var start = Patterns.Named["glider"];
        File.WriteAllText(folder.File("rollouts.csv"), "State 1,State 2,State 3\n" +
            string.Join(',', Enumerable.Range(0, 3).Select(g => LifeRule.Step(start, g).ToCells())) + "\n");

        var result = ConwayRun.With("eval", "--paper-250", folder.File("rollouts.csv"), "--rollout-steps", "5", "--skip-paper");

        AssertUsageError(result, "conway eval: ", "--rollout-steps is at most 2: the trajectories have 3 states");
    }

    private static void AssertUsageError(ConwayRun.Result result, string prefix, string message)
    {
        Assert.Equal(ConwayCli.UsageError, result.ExitCode);
        Assert.Equal("", result.Stdout);
        string line = Assert.Single(result.StderrLines);
        Assert.StartsWith(prefix, line);
        Assert.Contains(message, line);
        Assert.DoesNotContain("   at ", result.Stderr);      // no stack trace
    }
}
