using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Conway.Boards;
using Conway.Checkpoints;
using Conway.Codec;
using Conway.Kernels;
using Conway.Model;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Conway.Training;

public sealed record TrainOptions
{
    public int Steps { get; init; } = 2100;
    public int Batch { get; init; } = 64;
    public double LearningRate { get; init; } = 1e-3;
    public double MinLearningRate { get; init; } = 1e-4;
    public int WarmupSteps { get; init; } = 200;
    public double WeightDecay { get; init; } = 0.01;
    public double ClipNorm { get; init; } = 1.0;
    public int Seed { get; init; } = 1;
    /// <summary>bf16: float32 master weights with bf16 matmuls; tf32: float32 with TF32 matmuls; fp32: plain float32.</summary>
    public string Precision { get; init; } = "bf16";
    public string Device { get; init; } = "auto";
    public string OutDir { get; init; } = "artifacts/train";
    public int LogEvery { get; init; } = 10;
    public int EvalEvery { get; init; } = 100;
    public int EvalBoards { get; init; } = 256;
    public int CheckpointEvery { get; init; } = 250;
    /// <summary>Stop (with a checkpoint) after this much wall time, so a run fits a time-limited machine; resume later.</summary>
    public double MaxMinutes { get; init; } = double.PositiveInfinity;
    /// <summary>Stop early once the held-out boards are all exact this many evaluations in a row (0: never).</summary>
    public int StopAfterPerfectEvals { get; init; }
    /// <summary>
    /// A checkpoint whose weights a fresh run starts from instead of random ones (null: random), e.g. to fine-tune a
    /// model on its mined errors or on its own 16-bit weights; AdamW's moments start afresh.
    /// </summary>
    public string? InitFrom { get; init; }
    /// <summary>Boards a model got wrong, mixed into every batch (null: the fresh-board mix alone).</summary>
    public HardBoards? HardBoards { get; init; }
    /// <summary>Time the phases of the run's last N steps (each waits for the device; <see cref="StepProfile"/>) and log the table.</summary>
    public int ProfileSteps { get; init; }
}

/// <summary>
/// The reference recipe (spec: "Reference training"): AdamW (0.9, 0.95, wd 0.01), linear warm-up then cosine from
/// 1e-3 to 1e-4, batch 64, gradient-norm clip 1.0, fresh boards every step. The loss covers only the 1026 positions
/// that predict the next-state cells and <c>]$</c>: the input cells are random, predicting them is wasted capacity.
/// Log lines (every <see cref="TrainOptions.LogEvery"/> steps, and at evaluations) go to <paramref name="log"/>; the
/// step it starts from and every step after it are reported to <paramref name="progress"/>, with the last loss read back.
/// </summary>
public sealed class Trainer(TrainOptions o, TextWriter log, IProgress<TrainingProgress>? progress = null)
{
    private const int OutputPositions = Board.Cells + 2;               // next-state cells, then ']' and '$'

    public string CheckpointPath => Path.Combine(o.OutDir, "checkpoint.safetensors");
    private string OptimizerPath => Path.Combine(o.OutDir, "optimizer.bin");
    private string StatePath => Path.Combine(o.OutDir, "state.json");
    private string CsvPath => Path.Combine(o.OutDir, "train.csv");

    public TrainResult Run()
    {
        Directory.CreateDirectory(o.OutDir);
        var device = Decoding.LifeGptPredictor.ResolveDevice(o.Device);
        backends.cuda.matmul.allow_tf32 = o.Precision == "tf32";
        manual_seed(o.Seed);

        using var model = new LifeGpt();
        nn.init.kaiming_normal_(model.net.token_emb.emb.weight!);   // x-transformers' token embedding init
        int step = 0;
        bool flatMoments = false;                                        // optimizer.bin holds FlatParameters.All's moments
        string? initSha256 = o.InitFrom is null ? null : Checkpoint.Sha256(o.InitFrom);
        if (File.Exists(StatePath))
        {
            var state = JsonSerializer.Deserialize<TrainState>(File.ReadAllText(StatePath))!;
            if (state.Seed != o.Seed) throw new InvalidOperationException($"{o.OutDir} holds a run with seed {state.Seed}, not {o.Seed}.");
            if (state.HardBoards != o.HardBoards?.Sha256)
                throw new InvalidOperationException($"{o.OutDir} holds a run with {HardBoardsNamed(state.HardBoards)}, not {HardBoardsNamed(o.HardBoards?.Sha256)}: " +
                                                    "resume it with the hard boards it started with.");
            if (state.InitFrom != initSha256)
                throw new InvalidOperationException($"{o.OutDir} holds a run started from {StartNamed(state.InitFrom)}, not from {StartNamed(initSha256)}: " +
                                                    "resume it from what it started from.");
            (step, flatMoments) = (state.Step, state.FlatOptimizer);
            Checkpoint.Load(model, CheckpointPath);
        }
        else if (o.InitFrom is not null)
        {
            Checkpoint.Load(model, o.InitFrom);
            log.WriteLine($"train: starting from the weights of {o.InitFrom} (sha256 {initSha256![..12]})");
        }
        model.MoveTo(device, ScalarType.Float32);
        model.AutocastTo = o.Precision == "bf16" && device.type == DeviceType.CUDA ? ScalarType.BFloat16 : null;
        var kernels = model.AutocastTo == ScalarType.BFloat16 ? KernelChoice.For("auto", device, ScalarType.BFloat16) : KernelChoice.Libtorch($"precision {o.Precision} on {device}");
        model.TrainingKernels = kernels.Kernels;
        model.train();

        var parameters = model.parameters().ToArray();
        using var flat = new FlatParameters(parameters, o.ClipNorm);
        using var optimizer = optim.AdamW([flat.All], o.LearningRate, 0.9, 0.95, weight_decay: o.WeightDecay);
        bool resumed = step > 0;
        if (resumed) LoadOptimizer(optimizer, flatMoments, flat.All.device);
        using var evalData = Sequences(TrainingBoards.Batch(o.Seed + 7919, -1, o.EvalBoards), device);

        log.WriteLine($"train: {parameters.Sum(p => p.NumberOfElements):N0} parameters on {device}, precision {o.Precision}, " +
                      $"batch {o.Batch}, steps {o.Steps}, seed {o.Seed}" +
                      (o.HardBoards is { } hard ? $", {hard.Boards.Count} hard boards as {hard.Share:P0} of each batch" : "") +
                      (resumed ? $", resuming at step {step}" : "") + $"; rotary on {kernels.Description}");
        if (!resumed) File.WriteAllText(CsvPath, "step,loss,lr,tokens_per_s,elapsed_s,eval_cell_acc,eval_board_acc\n");

        var clock = Stopwatch.StartNew();
        int startStep = step, perfectEvals = 0;
        Accuracy? last = null;
        double loss = double.NaN;
        bool timeUp = false;
        var profile = new StepProfile(device);
        using var batches = new BatchPipeline(s => TrainingBoards.Batch(o.Seed, s, o.Batch, o.HardBoards), device);
        progress?.Report(new TrainingProgress(step, o.Steps, loss));
        while (step < o.Steps)
        {
            double lr = LearningRate(step);
            foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
            profile.Begin(profiled: step - startStep >= ProfileWarmupSteps && step >= o.Steps - o.ProfileSteps);
            using (var scope = NewDisposeScope())
            {
                var lossTensor = Loss(model, batches.Take(step, next: step + 1 < o.Steps ? step + 1 : null, profile));
                profile.Mark("forward and loss");
                flat.ZeroGrad();
                lossTensor.backward();
                profile.Mark("backward");
                flat.ClipGradNorm();
                profile.Mark("clip");
                optimizer.step();
                profile.Mark("AdamW");
                timeUp = clock.Elapsed.TotalMinutes >= o.MaxMinutes;   // then this step is the run's last: its loss is read too
                if ((step + 1) % o.LogEvery == 0 || step + 1 == o.Steps || timeUp) loss = lossTensor.item<float>();   // the only sync
            }
            step++;

            bool evaluate = step % o.EvalEvery == 0 || step == o.Steps;
            if (evaluate) last = Evaluate(model, evalData);
            if (step % o.LogEvery == 0 || evaluate || timeUp)
            {
                double seconds = clock.Elapsed.TotalSeconds, perStep = seconds / (step - startStep);
                double tokensPerSecond = o.Batch * (LifeGptCodec.SequenceLength - 1) / perStep;
                string accuracy = evaluate ? $", held-out cells {last!.Cells:P3}, boards {last.Boards:P1}" : "";
                log.WriteLine($"step {step,5}/{o.Steps}  loss {loss:F5}  lr {lr:E2}  {tokensPerSecond / 1e6:F2}M tok/s  " +
                              $"{perStep * 1000:F0} ms/step  ETA {TimeSpan.FromSeconds(perStep * (o.Steps - step)):mm\\:ss}{accuracy}");
                File.AppendAllText(CsvPath, string.Create(CultureInfo.InvariantCulture,
                    $"{step},{loss},{lr},{tokensPerSecond:F0},{seconds:F1},{(evaluate ? last!.Cells : ""):F6},{(evaluate ? last!.Boards : ""):F6}\n"));
            }
            if (evaluate) perfectEvals = last!.Boards >= 1.0 ? perfectEvals + 1 : 0;
            bool converged = o.StopAfterPerfectEvals > 0 && perfectEvals >= o.StopAfterPerfectEvals;
            if (step % o.CheckpointEvery == 0 || step == o.Steps || timeUp || converged)
                SaveCheckpoint(model, optimizer, step, initSha256);
            progress?.Report(new TrainingProgress(step, o.Steps, loss));
            if (timeUp || converged)
            {
                log.WriteLine(converged ? $"stopping: held-out boards exact in {perfectEvals} evaluations in a row"
                                        : $"stopping after {o.MaxMinutes} minutes; resume with the same --out");
                break;
            }
        }
        if (profile.Steps > 0) log.Write(profile.Table());
        if (step == startStep)   // the run in OutDir had already reached Steps: say how good it is, so an export's card can
        {
            log.WriteLine($"train: the run in {o.OutDir} is at step {step} of {o.Steps}: nothing to train");
            last = Evaluate(model, evalData);
        }
        return new TrainResult(step, double.IsNaN(loss) ? null : loss, last, clock.Elapsed, CheckpointPath, initSha256);
    }

    /// <summary>Steps a profile leaves out at the start of a run (cuBLAS and attention pick their kernels then).</summary>
    private const int ProfileWarmupSteps = 3;

    /// <summary>The cross-entropy of the next-state cells and the trailer given full sequences [B, 2071].</summary>
    private static Tensor Loss(LifeGpt model, Tensor batch)
    {
        var logits = model.forward(batch.narrow(1, 0, LifeGptCodec.SequenceLength - 1))
            .narrow(1, LifeGptCodec.PromptLength - 1, OutputPositions);
        var targets = batch.narrow(1, LifeGptCodec.PromptLength, OutputPositions);
        return F.cross_entropy(logits.to(ScalarType.Float32).reshape(-1, LifeGptShape.Vocab), targets.reshape(-1));
    }

    /// <summary>
    /// AdamW's moments from the run's optimizer.bin. A missing file, or one written before the parameters were one
    /// buffer (<see cref="FlatParameters"/>; its moments are per tensor, and state.json does not say
    /// <see cref="TrainState.FlatOptimizer"/>), starts them afresh with a warning.
    /// </summary>
    private void LoadOptimizer(TorchSharp.Modules.OptimizerHelper optimizer, bool flatMoments, Device device)
    {
        if (!File.Exists(OptimizerPath)) log.WriteLine($"warning: no {OptimizerPath}; AdamW's moments start afresh");
        else if (!flatMoments) log.WriteLine($"warning: {OptimizerPath} holds AdamW's moments per tensor (written before the parameters were one buffer); they start afresh");
        else
        {
            optimizer.load_py(OptimizerPath);
            MomentsTo(optimizer, device);
        }
    }

    /// <summary>
    /// load_py makes AdamW's moments on the CPU and TorchSharp's <c>State.to</c> drops the moved tensors, so a run
    /// resumed on CUDA would step CPU moments against CUDA gradients: move them here.
    /// </summary>
    private static void MomentsTo(TorchSharp.Modules.OptimizerHelper optimizer, Device device)
    {
        foreach (var state in optimizer.state_dict().State.Cast<TorchSharp.Modules.AdamW.State>())
        {
            (state.exp_avg, state.exp_avg_sq) = (Moved(state.exp_avg), Moved(state.exp_avg_sq));
        }

        Tensor Moved(Tensor moment)
        {
            if (moment.device_type == device.type && moment.device_index == device.index) return moment;
            var moved = moment.to(device).DetachFromDisposeScope();
            moment.Dispose();
            return moved;
        }
    }

    /// <summary>Linear warm-up to the peak rate, then a cosine down to the floor at the last step (step Steps - 1).</summary>
    public double LearningRate(int step)
    {
        if (step < o.WarmupSteps) return o.LearningRate * (step + 1) / o.WarmupSteps;
        double cosineDone = Math.Min(1.0, (double)(step - o.WarmupSteps) / Math.Max(1, o.Steps - 1 - o.WarmupSteps));
        return o.MinLearningRate + 0.5 * (o.LearningRate - o.MinLearningRate) * (1 + Math.Cos(Math.PI * cosineDone));
    }

    /// <summary>
    /// Teacher-forced accuracy: the argmax at every next-state cell given the true cells before it. Boards go through
    /// the model <see cref="EvalChunk"/> at a time.
    /// </summary>
    public static Accuracy Evaluate(LifeGpt model, Tensor sequences)
    {
        using var _ = inference_mode();
        model.eval();
        long cellsRight = 0, boardsRight = 0, boards = sequences.shape[0], chunk = EvalChunk(sequences.device_type);
        for (long start = 0; start < boards; start += chunk)
        {
            using var scope = NewDisposeScope();
            var batch = sequences.narrow(0, start, Math.Min(chunk, boards - start));
            var predicted = model.forward(batch.narrow(1, 0, LifeGptCodec.CellsEnd - 1))
                .narrow(1, LifeGptCodec.PromptLength - 1, Board.Cells).argmax(-1);
            var right = predicted.eq(batch.narrow(1, LifeGptCodec.PromptLength, Board.Cells));
            cellsRight += right.sum().item<long>();
            boardsRight += right.all(1).sum().item<long>();
        }
        model.train();
        return new Accuracy((double)cellsRight / (boards * Board.Cells), (double)boardsRight / boards);
    }

    /// <summary>
    /// Boards per forward pass of <see cref="Evaluate"/>: 64 on CUDA (flash attention); 4 on the CPU, whose attention
    /// materialises a [boards, 8, 2070, 2070] float32 score matrix a layer (8.8 GB at 64 boards, which with its softmax
    /// ended a run on a 24 GB machine at its first evaluation; 0.55 GB at 4).
    /// </summary>
    internal static long EvalChunk(DeviceType device) => device == DeviceType.CUDA ? 64 : 4;

    /// <summary>Full training sequences [B, 2071] for boards and their exact next states.</summary>
    internal static Tensor Sequences(IReadOnlyList<Board> boards, Device device)
        => LifeGptCodec.Sequences(boards, boards.Select(b => LifeRule.Step(b)).ToArray(), device);

    private void SaveCheckpoint(LifeGpt model, optim.Optimizer optimizer, int step, string? initSha256)
    {
        Checkpoint.Save(model, CheckpointPath, ScalarType.Float32);
        ((TorchSharp.Modules.OptimizerHelper)optimizer).save_py(OptimizerPath);
        File.WriteAllText(StatePath, JsonSerializer.Serialize(new TrainState(step, o.Seed, o.HardBoards?.Sha256, initSha256, FlatOptimizer: true)));
    }

    private static string HardBoardsNamed(string? sha256) => sha256 is null ? "no hard boards" : $"the hard boards of sha256 {sha256[..12]}";

    private static string StartNamed(string? sha256) => sha256 is null ? "random weights" : $"the checkpoint of sha256 {sha256[..12]}";

    /// <summary>A run's state.json. <paramref name="FlatOptimizer"/>: optimizer.bin holds the moments of <see cref="FlatParameters.All"/>.</summary>
    private sealed record TrainState(int Step, int Seed, string? HardBoards = null, string? InitFrom = null, bool FlatOptimizer = false);
}

public sealed record Accuracy(double Cells, double Boards);

/// <summary>Steps done of all; the loss last read back from the device (NaN before the first log line).</summary>
public sealed record TrainingProgress(int Step, int Steps, double Loss);

/// <summary>
/// What a run did. <paramref name="Loss"/>: the last loss read back, null if none was (no step ran: the run had reached
/// its steps already). <paramref name="InitSha256"/>: the checkpoint it started from (<see cref="TrainOptions.InitFrom"/>),
/// null for random weights.
/// </summary>
public sealed record TrainResult(int Steps, double? Loss, Accuracy? HeldOut, TimeSpan Elapsed, string Checkpoint, string? InitSha256 = null);
