using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using Conway.Cli.CommandLine;
using Conway.Cli.Progress;
using Conway.Decoding;
using Conway.Evaluation;

namespace Conway.Cli.Commands;

/// <summary>
/// <c>conway eval</c>: greedy accuracy of a LifeGPT checkpoint, graded cell by cell against the rule, on random boards
/// by density, boards listed in a file, the named patterns, the LifeGPT paper's test set, and autoregressive rollouts of
/// the paper's trajectories and of random soups. Writes accuracy.md (also to stdout), accuracy.json, density.csv,
/// rollouts.csv, soups.csv, accuracy.svg, predictions.txt (each graded board's
/// predicted cells) and wrong-boards.txt (the input of each board graded wrong, for <c>conway train --hard-boards</c>)
/// to --out; progress goes to stderr.
/// </summary>
public static class EvalCommand
{
    private const string Paper10 = "../shared/data/lifegpt/conway_test_states_32by32_20240716_151502.csv";
    private const string Paper250 = "../shared/data/lifegpt/conway_test_states_32by32_20240827_172807.csv";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    private sealed record Settings(
        string Model, string Device, string Precision, string Kernels, int Boards, int Seed, int Batch, DecodeStrategy Strategy, int Generations,
        string OutDir, string? Paper10, string? Paper250, int RolloutSteps, bool SkipPatterns, bool SkipPaper, bool SkipRollouts,
        string? BoardsFile, int Soups, int SoupSteps);

    public static Command Create()
    {
        var model = CliOptions.Text("--model", DecodingChoices.DefaultModel, "the checkpoint (.safetensors or PyTorch .pt); relative paths are looked up from the current folder upwards", "FILE");
        var device = CliOptions.Device();
        var precision = DecodingChoices.Precision();
        var kernels = DecodingChoices.Kernels();
        var boards = CliOptions.Whole("--boards", 2000, "random boards to grade, at densities 0.02-0.98 (graded per band of 0.1)");
        var seed = CliOptions.Whole("--seed", 1, "seed of the random boards and soups", min: int.MinValue);
        var boardsFile = CliOptions.Text("--boards-file", null, "also grade these boards: one a line as 1,024 0/1 cells (wrong-boards.txt of an earlier run) [default: none]", "FILE");
        var soups = CliOptions.Whole("--soups", 0, "random soups (densities 0.2-0.6) rolled out on the model's own predictions against the rule (0: none)");
        var soupSteps = CliOptions.Whole("--soup-steps", 1000, "steps of each soup's rollout", min: 1);
        var batch = CliOptions.Whole("--batch", 0, $"boards per model call (0: {LifeGptPredictor.CudaBoardsPerPass} on CUDA, {LifeGptPredictor.CpuBoardsPerPass} on the CPU)");
        var strategy = CliOptions.Choice("--strategy", "speculative", "speculative (the rule's draft, verified) or autoregressive (plain, cell by cell)", DecodingChoices.Strategies);
        var generations = CliOptions.Whole("--generations", 3, "every named pattern is graded advanced 0..N generations");
        var outDir = CliOptions.Text("--out", "artifacts/eval", "folder for accuracy.md, accuracy.json, density.csv, rollouts.csv, soups.csv, accuracy.svg, predictions.txt, wrong-boards.txt", "DIR");
        var paper10 = CliOptions.Text("--paper-10", null, $"the LifeGPT paper's test set of 10-state trajectories (CSV), every transition graded [default: {Paper10} if it is there (looked up from the current folder upwards), else not graded]", "FILE");
        var paper250 = CliOptions.Text("--paper-250", null, $"the paper's 250-state trajectories (CSV) for autoregressive rollouts [default: {Paper250} if it is there, else no rollouts]", "FILE");
        var rolloutSteps = CliOptions.Whole("--rollout-steps", 0, "steps of each rollout (0: all, 249 for the paper's set)");
        var skipPatterns = CliOptions.Flag("--skip-patterns", "do not grade the named patterns [default: graded]");
        var skipPaper = CliOptions.Flag("--skip-paper", "do not grade the --paper-10 test set [default: graded when found]");
        var skipRollouts = CliOptions.Flag("--skip-rollouts", "do not run the --paper-250 rollouts [default: run when found]");

        var command = new Command("eval", "greedy accuracy against the rule: random boards, listed boards, named patterns, the paper's test set, rollouts")
        {
            model, device, precision, kernels, boards, boardsFile, seed, batch, strategy, generations, outDir, paper10, paper250, rolloutSteps, skipPatterns, skipPaper, skipRollouts,
            soups, soupSteps,
        };
        command.SetAction(parsed => Run(new Settings(
            parsed.GetRequiredValue(model), parsed.GetRequiredValue(device), parsed.GetRequiredValue(precision), parsed.GetRequiredValue(kernels), parsed.GetValue(boards),
            parsed.GetValue(seed), parsed.GetValue(batch), DecodingChoices.Strategy(parsed.GetRequiredValue(strategy)), parsed.GetValue(generations), parsed.GetRequiredValue(outDir),
            parsed.GetValue(paper10), parsed.GetValue(paper250), parsed.GetValue(rolloutSteps),
            parsed.GetValue(skipPatterns), parsed.GetValue(skipPaper), parsed.GetValue(skipRollouts),
            parsed.GetValue(boardsFile), parsed.GetValue(soups), parsed.GetValue(soupSteps)),
            parsed.InvocationConfiguration.Output, parsed.InvocationConfiguration.Error));
        return command;
    }

    private static int Run(Settings s, TextWriter output, TextWriter error)
    {
        var clock = Stopwatch.StartNew();
        var started = DateTime.UtcNow;

        // the inputs are read (and checked) before the model loads
        string modelPath = DecodingChoices.RequireModel(s.Model);
        string? paper10Path = s.SkipPaper ? null : TestSet(s.Paper10, "--paper-10", Paper10, "--skip-paper", "the paper test set", error);
        string? paper250Path = s.SkipRollouts ? null : TestSet(s.Paper250, "--paper-250", Paper250, "--skip-rollouts", "rollouts", error);
        var paper10 = paper10Path is null ? null : Read(paper10Path, "--paper-10");
        var paper250 = paper250Path is null ? null : Read(paper250Path, "--paper-250");
        int rolloutSteps = s.RolloutSteps;
        if (paper250 is not null)
        {
            if (rolloutSteps > paper250.States - 1)
                throw new CliUsageException($"--rollout-steps is at most {paper250.States - 1}: the trajectories have {paper250.States} states");
            if (rolloutSteps == 0) rolloutSteps = paper250.States - 1;
        }
        var (listedPath, listed) = s.BoardsFile is null ? (null, []) : BoardLists.Read(s.BoardsFile, "--boards-file");
        Devices.Check(s.Device);

        EvalCase[] cases =
        [
            .. EvalCases.Random(s.Boards, s.Seed),
            .. EvalCases.Listed(listed),
            .. s.SkipPatterns ? [] : EvalCases.Patterns(s.Generations),
            .. paper10 is null ? [] : EvalCases.Paper(paper10),
        ];
        using var predictor = LifeGptPredictor.Load(modelPath, s.Device, s.Batch, s.Precision, s.Kernels);   // 0: the device's default
        var info = predictor.Info;
        error.WriteLine($"eval: {info.Path} ({info.Sha256[..12]}) on {info.Device}, {info.DType}, {info.Kernels}, loaded in {info.LoadTime.TotalSeconds:F1} s; " +
                        $"{cases.Length} boards to grade, {(paper250 is null ? "no rollouts" : $"{paper250.Trajectories.Count} rollouts of {rolloutSteps} steps")}, " +
                        $"{s.Soups} soups of {s.SoupSteps} steps, batches of {predictor.MaxBatch}");

        GradedBoard[] graded;
        RolloutResult[] rollouts, soupRollouts;
        using (var progress = new ProgressDisplay(error, ProgressDisplay.StderrIsTerminal, "eval"))
        {
            var report = new SynchronousProgress<EvalProgress>(p => progress.Update(p.Stage, p.Done, p.Total, p.Status));
            var evaluator = new Evaluator(predictor, DecodeOptions.Greedy with { Strategy = s.Strategy }, predictor.MaxBatch, report);
            graded = evaluator.Grade(cases);
            rollouts = paper250 is null ? [] : evaluator.Rollouts(paper250.Trajectories, rolloutSteps);
            soupRollouts = s.Soups == 0 ? [] : evaluator.Rollouts(EvalCases.Soups(s.Soups, s.SoupSteps, s.Seed), s.SoupSteps);
        }

        var run = new RunInfo(CommandLineText.Current(), info.Path, info.Sha256, info.Parameters, info.DType, info.Device,
            $"greedy, {s.Strategy.ToString().ToLowerInvariant()}", predictor.MaxBatch, s.Seed, paper10Path, paper250Path, started, clock.Elapsed, listedPath);
        var evalReport = EvalReport.Create(run, graded, s.SkipPatterns ? 0 : s.Generations, rollouts, paper250 is null ? 0 : rolloutSteps,
            soupRollouts, s.Soups == 0 ? 0 : s.SoupSteps);
        string markdown = MarkdownReport.Write(evalReport);

        Directory.CreateDirectory(s.OutDir);
        File.WriteAllText(Path.Combine(s.OutDir, "accuracy.md"), markdown);
        File.WriteAllText(Path.Combine(s.OutDir, "accuracy.json"), JsonSerializer.Serialize(evalReport, Json));
        File.WriteAllText(Path.Combine(s.OutDir, "density.csv"), evalReport.DensityCsv());
        File.WriteAllText(Path.Combine(s.OutDir, "rollouts.csv"), evalReport.RolloutsCsv());
        File.WriteAllText(Path.Combine(s.OutDir, "soups.csv"), evalReport.SoupsCsv());
        File.WriteAllText(Path.Combine(s.OutDir, "accuracy.svg"), AccuracyFigure.Svg(evalReport));   // PNG: rsvg-convert accuracy.svg -o accuracy.png
        File.WriteAllLines(Path.Combine(s.OutDir, "predictions.txt"), graded.Select(g => g.Predicted.ToCells()));   // diff two runs' outputs
        // hard-example mining: conway train --hard-boards feeds them back
        File.WriteAllLines(Path.Combine(s.OutDir, "wrong-boards.txt"), graded.Where(g => !g.Exact).Select(g => g.Case.Input.ToCells()));
        output.Write(markdown);
        error.WriteLine($"eval: wrote accuracy.md, accuracy.json, density.csv, rollouts.csv, soups.csv, accuracy.svg, predictions.txt and wrong-boards.txt to {Path.GetFullPath(s.OutDir)}");
        return 0;
    }

    /// <summary>
    /// A test set's path: one given must be there (a usage error otherwise); the default is used where it is found
    /// and otherwise left out, saying so.
    /// </summary>
    private static string? TestSet(string? given, string option, string fallback, string skip, string what, TextWriter error)
    {
        if (given is not null) return FileSearch.Require(given, option, $"pass {option} <path> or {skip}");
        string? found = FileSearch.Locate(fallback, out _);
        if (found is null) error.WriteLine($"eval: no {what}: {fallback} is not there (pass {option} <path>)");
        return found;
    }

    private static LifeGptTestSet Read(string path, string option)
    {
        try
        {
            return LifeGptTestSet.Read(path);
        }
        catch (FormatException e)
        {
            throw new CliUsageException($"{option}: {e.Message}");
        }
    }
}
