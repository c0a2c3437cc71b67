using System.Text.Json;
using Conway.Checkpoints;
using Conway.Cli.Training;
using Conway.Model;
using static TorchSharp.torch;

namespace Conway.Cli;

/// <summary><c>conway train</c>: trains from scratch (or resumes from --out), then optionally exports the 16-bit model.</summary>
public static class TrainCommand
{
    public static int Run(CliArgs args)
    {
        var defaults = new TrainOptions();
        var options = new TrainOptions
        {
            Steps = args.Int("steps", defaults.Steps),
            Batch = args.Int("batch", defaults.Batch),
            LearningRate = args.Double("lr", defaults.LearningRate),
            MinLearningRate = args.Double("min-lr", defaults.MinLearningRate),
            WarmupSteps = args.Int("warmup", defaults.WarmupSteps),
            Seed = args.Int("seed", defaults.Seed),
            Precision = args.String("precision", defaults.Precision),
            Device = args.String("device", defaults.Device),
            OutDir = args.String("out", defaults.OutDir),
            LogEvery = args.Int("log-every", defaults.LogEvery),
            EvalEvery = args.Int("eval-every", defaults.EvalEvery),
            EvalBoards = args.Int("eval-boards", defaults.EvalBoards),
            CheckpointEvery = args.Int("checkpoint-every", defaults.CheckpointEvery),
            MaxMinutes = args.Double("max-minutes", defaults.MaxMinutes),
            StopAfterPerfectEvals = args.Int("stop-after-perfect-evals", defaults.StopAfterPerfectEvals),
        };
        string? export = args.Optional("export");
        args.EnsureAllUsed();
        if (options.Precision is not ("bf16" or "tf32" or "fp32")) throw new CliUsageException("--precision is bf16, tf32 or fp32");

        var result = new Trainer(options, Console.Out).Run();
        Console.WriteLine($"trained {result.Steps} steps in {result.Elapsed:hh\\:mm\\:ss}; final loss {result.Loss:F5}; " +
                          (result.HeldOut is { } a ? $"held-out cells {a.Cells:P3}, boards {a.Boards:P1}" : "no evaluation"));
        if (export is null) return 0;

        using var model = new LifeGpt();
        Checkpoint.Load(model, result.Checkpoint);
        Checkpoint.Save(model, export, ScalarType.BFloat16);
        var card = new
        {
            format = "safetensors, bfloat16 weights (rotary inv_freq float32), reference key names",
            command = "conway train " + string.Join(' ', Environment.GetCommandLineArgs().Skip(2)),
            seed = options.Seed,
            steps = result.Steps,
            batch = options.Batch,
            precision = options.Precision,
            elapsed = result.Elapsed.ToString(@"hh\:mm\:ss"),
            device = cuda.is_available() ? "cuda" : "cpu",
            finalLoss = result.Loss,
            heldOutTeacherForced = result.HeldOut,
            sha256 = Checkpoint.Sha256(export),
        };
        File.WriteAllText(Path.ChangeExtension(export, ".train.json"), JsonSerializer.Serialize(card, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"exported {export} ({new FileInfo(export).Length / 1e6:F1} MB)");
        return 0;
    }
}
