using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using Conway.Cli.Evaluation;
using Conway.Decoding;
using TorchSharp;

namespace Conway.Cli;

/// <summary>
/// <c>conway eval</c>: greedy accuracy of a LifeGPT checkpoint, graded cell by cell against the rule, on random boards
/// by density, the named patterns, the LifeGPT paper's test set and autoregressive rollouts. Writes accuracy.md (also
/// to stdout), accuracy.json, density.csv, rollouts.csv, accuracy.svg and predictions.txt (each graded board's predicted cells) to --out; progress goes to stderr.
/// Options: --model (models/lifegpt.safetensors), --device auto|cpu|cuda, --precision auto|bf16|fp32, --boards 2000, --seed 1,
/// --batch (0: 256 on CUDA, 4 on the CPU), --strategy speculative|autoregressive, --generations 3 (patterns advanced
/// 0..n), --out artifacts/eval, --paper-10 and --paper-250 (the CSV test sets), --rollout-steps (0: all 249),
/// --skip-patterns, --skip-paper, --skip-rollouts. Relative paths are looked up from the current folder upwards.
/// </summary>
public static class EvalCommand
{
    private const string DefaultModel = "models/lifegpt.safetensors";
    private const string DefaultPaper10 = "../shared/data/lifegpt/conway_test_states_32by32_20240716_151502.csv";
    private const string DefaultPaper250 = "../shared/data/lifegpt/conway_test_states_32by32_20240827_172807.csv";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    public static int Run(CliArgs args)
    {
        var clock = Stopwatch.StartNew();
        var started = DateTime.UtcNow;
        string modelArg = args.String("model", DefaultModel);
        string device = args.String("device", "auto");
        string precision = args.String("precision", "auto");
        int boards = args.Int("boards", 2000);
        int seed = args.Int("seed", 1);
        int batch = args.Int("batch", 0);
        string strategyArg = args.String("strategy", "speculative");
        int generations = args.Int("generations", 3);
        string outDir = args.String("out", "artifacts/eval");
        string paper10Arg = args.String("paper-10", DefaultPaper10);
        string paper250Arg = args.String("paper-250", DefaultPaper250);
        bool skipPatterns = args.Flag("skip-patterns"), skipPaper = args.Flag("skip-paper"), skipRollouts = args.Flag("skip-rollouts");
        int rolloutSteps = args.Int("rollout-steps", 0);
        args.EnsureAllUsed();

        if (!Enum.TryParse(strategyArg, ignoreCase: true, out DecodeStrategy strategy) || int.TryParse(strategyArg, out _))
            throw new CliUsageException($"--strategy is speculative or autoregressive, not '{strategyArg}'");
        if (boards < 0 || generations < 0 || batch < 0 || rolloutSteps < 0)
            throw new CliUsageException("--boards, --generations, --batch and --rollout-steps cannot be negative");

        // the inputs are read (and checked) before the model loads
        string model = Locate(modelArg, "model", $"train one (conway train --export {DefaultModel}) or pass --model <path>");
        string? paper10Path = skipPaper ? null : Locate(paper10Arg, "--paper-10 test set", "pass --paper-10 <path> or --skip-paper");
        string? paper250Path = skipRollouts ? null : Locate(paper250Arg, "--paper-250 test set", "pass --paper-250 <path> or --skip-rollouts");
        var paper10 = paper10Path is null ? null : LifeGptTestSet.Read(paper10Path);
        var paper250 = paper250Path is null ? null : LifeGptTestSet.Read(paper250Path);
        if (paper250 is not null)
        {
            if (rolloutSteps > paper250.States - 1)
                throw new CliUsageException($"--rollout-steps is at most {paper250.States - 1}: the trajectories have {paper250.States} states");
            if (rolloutSteps == 0) rolloutSteps = paper250.States - 1;
        }

        EvalCase[] cases =
        [
            .. EvalCases.Random(boards, seed),
            .. skipPatterns ? [] : EvalCases.Patterns(generations),
            .. paper10 is null ? [] : EvalCases.Paper(paper10),
        ];
        // on the CPU a batch of 16 full-sequence passes takes over 20 GB (attention scores and the KV cache): 4 fits
        if (batch == 0) batch = LifeGptPredictor.ResolveDevice(device).type == DeviceType.CUDA ? 256 : 4;
        using var predictor = LifeGptPredictor.Load(model, device, batch, BenchCommand.Precision(precision));
        var info = predictor.Info;
        Console.Error.WriteLine($"eval: {info.Path} ({info.Sha256[..12]}) on {info.Device}, {info.DType}, loaded in {info.LoadTime.TotalSeconds:F1} s; " +
                                $"{cases.Length} boards to grade, {(paper250 is null ? "no rollouts" : $"{paper250.Trajectories.Count} rollouts of {rolloutSteps} steps")}, batches of {predictor.MaxBatch}");

        var evaluator = new Evaluator(predictor, DecodeOptions.Greedy with { Strategy = strategy }, predictor.MaxBatch, Console.Error);
        var graded = evaluator.Grade(cases);
        var rollouts = paper250 is null ? [] : evaluator.Rollouts(paper250.Trajectories, rolloutSteps);

        var run = new RunInfo(CommandLine(), info.Path, info.Sha256, info.Parameters, info.DType, info.Device,
            $"greedy, {strategy.ToString().ToLowerInvariant()}", predictor.MaxBatch, seed, paper10Path, paper250Path, started, clock.Elapsed);
        var report = EvalReport.Create(run, graded, skipPatterns ? 0 : generations, rollouts, paper250 is null ? 0 : rolloutSteps);
        string markdown = MarkdownReport.Write(report);

        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, "accuracy.md"), markdown);
        File.WriteAllText(Path.Combine(outDir, "accuracy.json"), JsonSerializer.Serialize(report, Json));
        File.WriteAllText(Path.Combine(outDir, "density.csv"), report.DensityCsv());
        File.WriteAllText(Path.Combine(outDir, "rollouts.csv"), report.RolloutsCsv());
        File.WriteAllText(Path.Combine(outDir, "accuracy.svg"), AccuracyFigure.Svg(report));   // PNG: rsvg-convert accuracy.svg -o accuracy.png
        File.WriteAllLines(Path.Combine(outDir, "predictions.txt"), graded.Select(g => g.Predicted.ToCells()));   // diff two runs' outputs
        Console.Write(markdown);
        Console.Error.WriteLine($"eval: wrote accuracy.md, accuracy.json, density.csv, rollouts.csv, accuracy.svg and predictions.txt to {Path.GetFullPath(outDir)}");
        return 0;
    }

    /// <summary>
    /// A file given relative to the repository root or the current directory: tried against the current directory,
    /// then each folder above it (so the defaults work from the repository root and from its subfolders).
    /// </summary>
    private static string Locate(string path, string what, string hint)
    {
        var tried = new List<string>();
        for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir is not null; dir = Path.IsPathRooted(path) ? null : dir.Parent)
        {
            string candidate = Path.GetFullPath(path, dir.FullName);
            if (File.Exists(candidate)) return candidate;
            tried.Add(candidate);
        }
        throw new CliUsageException($"{what} not found: {path} (looked for {string.Join(", ", tried.Distinct())}); {hint}");
    }

    private static string CommandLine() =>
        "conway " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1).Select(a => a.Contains(' ') ? $"\"{a}\"" : a));
}
