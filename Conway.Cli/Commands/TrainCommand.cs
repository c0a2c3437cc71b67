using System.CommandLine;
using System.Text.Json;
using Conway.Boards;
using Conway.Checkpoints;
using Conway.Cli.CommandLine;
using Conway.Cli.Progress;
using Conway.Model;
using Conway.Training;
using static TorchSharp.torch;

namespace Conway.Cli.Commands;

/// <summary><c>conway train</c>: trains from scratch (or resumes from --out), then optionally exports the 16-bit model.</summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var d = new TrainOptions();
        var steps = CliOptions.Whole("--steps", d.Steps, "optimizer steps in all (a resumed run counts the steps already done)", min: 1);
        var batch = CliOptions.Whole("--batch", d.Batch, "boards per step", min: 1);
        var lr = CliOptions.Number("--lr", d.LearningRate, "peak learning rate (AdamW), reached after the warm-up");
        var minLr = CliOptions.Number("--min-lr", d.MinLearningRate, "learning rate at the last step (the cosine's floor)");
        var warmup = CliOptions.Whole("--warmup", d.WarmupSteps, "steps of linear warm-up");
        var seed = CliOptions.Whole("--seed", d.Seed, "seed of the weights and of the boards (the same seed gives the same data order)", min: int.MinValue);
        var precision = CliOptions.Choice("--precision", d.Precision, "bf16: float32 weights with bf16 matmuls (CUDA); tf32: TF32 matmuls; fp32: plain float32", ["bf16", "tf32", "fp32"]);
        var device = CliOptions.Device();
        var outDir = CliOptions.Text("--out", d.OutDir, "folder of the run: checkpoint.safetensors, optimizer.bin, state.json, train.csv; a run there resumes", "DIR");
        var logEvery = CliOptions.Whole("--log-every", d.LogEvery, "a log line (and a train.csv row) every N steps", min: 1);
        var evalEvery = CliOptions.Whole("--eval-every", d.EvalEvery, "held-out teacher-forced accuracy every N steps", min: 1);
        var evalBoards = CliOptions.Whole("--eval-boards", d.EvalBoards, "held-out boards per evaluation", min: 1);
        var checkpointEvery = CliOptions.Whole("--checkpoint-every", d.CheckpointEvery, "a checkpoint every N steps (and at the end)", min: 1);
        var maxMinutes = CliOptions.Number("--max-minutes", 0, "stop with a checkpoint after this many minutes, to resume later (0: no limit)");
        var stopAfter = CliOptions.Whole("--stop-after-perfect-evals", d.StopAfterPerfectEvals, "stop once this many evaluations in a row have every held-out board exact (0: never)");
        var init = CliOptions.Text("--init", null, "start a fresh run from this checkpoint's weights instead of random ones (e.g. fine-tune a model on its wrong boards; AdamW starts afresh) [default: random]", "FILE");
        var hardBoards = CliOptions.Text("--hard-boards", null, "boards a model got wrong (conway eval's wrong-boards.txt: a board of 1,024 0/1 cells a line), each draw under a random torus symmetry, as --hard-share of every batch [default: none]", "FILE");
        var hardShare = CliOptions.Number("--hard-share", 0.25, "the share of every batch drawn from --hard-boards (above 0, at most 1)");
        var profile = CliOptions.Whole("--profile", d.ProfileSteps, "time each phase of the run's last N steps (each phase then waits for the device) and log a table of them", min: 0);
        var export = CliOptions.Text("--export", null, "also write the model in bfloat16 here (.safetensors), with a .train.json card beside it [default: none]", "FILE");

        var command = new Command("train", "train LifeGPT from scratch on fresh boards from the exact rule (resumes from --out)")
        {
            steps, batch, lr, minLr, warmup, seed, precision, device, outDir, logEvery, evalEvery, evalBoards, checkpointEvery, maxMinutes, stopAfter, init, hardBoards, hardShare, profile, export,
        };
        command.SetAction(parsed =>
        {
            var options = new TrainOptions
            {
                Steps = parsed.GetValue(steps),
                Batch = parsed.GetValue(batch),
                LearningRate = parsed.GetValue(lr),
                MinLearningRate = parsed.GetValue(minLr),
                WarmupSteps = parsed.GetValue(warmup),
                Seed = parsed.GetValue(seed),
                Precision = parsed.GetRequiredValue(precision),
                Device = parsed.GetRequiredValue(device),
                OutDir = parsed.GetRequiredValue(outDir),
                LogEvery = parsed.GetValue(logEvery),
                EvalEvery = parsed.GetValue(evalEvery),
                EvalBoards = parsed.GetValue(evalBoards),
                CheckpointEvery = parsed.GetValue(checkpointEvery),
                MaxMinutes = parsed.GetValue(maxMinutes) is > 0 and var minutes ? minutes : double.PositiveInfinity,
                StopAfterPerfectEvals = parsed.GetValue(stopAfter),
                InitFrom = parsed.GetValue(init) is { } from ? FileSearch.Require(from, "--init", "pass a checkpoint (.safetensors or PyTorch .pt)") : null,
                HardBoards = parsed.GetValue(hardBoards) is { } file ? ReadHardBoards(file, parsed.GetValue(hardShare)) : null,
                ProfileSteps = parsed.GetValue(profile),
            };
            return Run(options, parsed.GetValue(export), parsed.InvocationConfiguration.Output, parsed.InvocationConfiguration.Error);
        });
        return command;
    }

    private static HardBoards ReadHardBoards(string file, double share)
    {
        if (share is <= 0 or > 1) throw new CliUsageException(FormattableString.Invariant($"--hard-share is a number above 0 and at most 1, not '{share}'"));
        return new HardBoards(BoardLists.Read(file, "--hard-boards").Boards, share);
    }

    private static int Run(TrainOptions options, string? export, TextWriter output, TextWriter error)
    {
        Devices.Check(options.Device);
        TrainResult result;
        using (var progress = new ProgressDisplay(error, ProgressDisplay.StderrIsTerminal, "train"))
        {
            var steps = new SynchronousProgress<TrainingProgress>(p =>
                progress.Update("steps", p.Step, p.Steps, double.IsNaN(p.Loss) ? "" : $"loss {p.Loss:F5}"));
            result = new Trainer(options, progress.Log, steps).Run();
        }
        output.WriteLine($"trained {result.Steps} steps in {result.Elapsed:hh\\:mm\\:ss}; final loss {result.Loss?.ToString("F5") ?? "none (no step ran)"}; " +
                         (result.HeldOut is { } a ? $"held-out cells {a.Cells:P3}, boards {a.Boards:P1}" : "no evaluation"));
        if (export is null) return 0;

        using var model = new LifeGpt();
        Checkpoint.Load(model, result.Checkpoint);
        Checkpoint.Save(model, export, ScalarType.BFloat16);
        var card = new
        {
            format = "safetensors, bfloat16 weights (rotary inv_freq float32), reference key names",
            command = CommandLineText.Current(),
            seed = options.Seed,
            steps = result.Steps,
            batch = options.Batch,
            precision = options.Precision,
            elapsed = result.Elapsed.ToString(@"hh\:mm\:ss"),
            device = cuda.is_available() ? "cuda" : "cpu",
            initFrom = result.InitSha256 is { } initSha256 ? new { file = Path.GetFileName(options.InitFrom), sha256 = initSha256 } : null,
            hardBoards = options.HardBoards is { } hard ? new { count = hard.Boards.Count, share = hard.Share, sha256 = hard.Sha256 } : null,
            finalLoss = result.Loss,
            heldOutTeacherForced = result.HeldOut,
            sha256 = Checkpoint.Sha256(export),
        };
        File.WriteAllText(Path.ChangeExtension(export, ".train.json"), JsonSerializer.Serialize(card, new JsonSerializerOptions { WriteIndented = true }));
        output.WriteLine($"exported {export} ({new FileInfo(export).Length / 1e6:F1} MB)");
        return 0;
    }
}
