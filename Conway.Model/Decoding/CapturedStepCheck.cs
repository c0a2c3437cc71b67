using Conway.Boards;
using Conway.Codec;
using Conway.Kernels;
using Conway.Model;
using static TorchSharp.torch;

namespace Conway.Decoding;

/// <summary>
/// The captured greedy step (<see cref="GreedySteps"/>: all of its kernels at once) against libtorch's step, on a LifeGpt
/// with its initial random weights in bfloat16 on one CUDA device: after the same prefill over random prompts (libtorch's),
/// one step's logits of '0' and '1' each way, and a board's 1,023 steps each way (ms a step; one timed run after a warm-up:
/// libtorch's take seconds). <c>conway kernels</c> prints the rows beside <see cref="FusedKernelCheck"/>'s.
/// </summary>
public static class CapturedStepCheck
{
    /// <summary>
    /// In ulps at the logits' scale, as <see cref="FusedKernelCheck"/> counts them: the step's matrix-vector products sum
    /// in another order than cuBLAS's GEMMs, and each of 24 blocks rounds its output to bfloat16 before the residual add,
    /// so a last-bit difference in any block carries to the logits (the attention inside it alone may differ by 16).
    /// </summary>
    public const double StepUlps = 32;

    public static IReadOnlyList<FusedKernelCheck.Result> Run(FusedKernels kernels, Device device)
    {
        using var _ = inference_mode();
        var generator = manual_seed(3);
        using var model = new LifeGpt();
        model.MoveTo(device, ScalarType.BFloat16);
        var results = new[] { 1, GreedySteps.MaxBatch }.Select(batch => Step(model, kernels, device, batch)).ToArray();
        GC.KeepAlive(generator);
        return results;
    }

    private static FusedKernelCheck.Result Step(LifeGpt model, FusedKernels kernels, Device device, int batch)
    {
        using var scope = NewDisposeScope();
        var boards = Enumerable.Range(0, batch).Select(i => Board.Random(0.3, new Random(i))).ToArray();
        model.UseKernels(KernelChoice.Libtorch("the check's reference"));
        using var reference = new KvCache(batch, ScalarType.BFloat16, device);
        using var captured = new KvCache(batch, ScalarType.BFloat16, device);
        var prefill = model.Pass(LifeGptCodec.Prompts(boards, device), 0, reference, LifeGptCodec.PromptLength - 1, cellsOnly: true);
        for (int i = 0; i < reference.Count; i++) captured[i].PositionMajor.copy_(reference[i].PositionMajor);
        var cells = zeros(batch, Board.Cells, ScalarType.Int64, device);
        using (var sampler = new CellSampler(DecodeOptions.Greedy)) cells.narrow(1, 0, 1).copy_(sampler.Choose(prefill, null));
        var first = cells.narrow(1, 0, 1).reshape(-1);

        var expected = model.Step(first, LifeGptCodec.PromptLength, reference, cellsOnly: true).view(batch, 2);
        double libtorchMs = FusedKernelCheck.Time(() =>
        {
            Tensor logits = first;
            for (int p = LifeGptCodec.PromptLength; p < LifeGptCodec.CellsEnd - 1; p++) logits = model.Step(first, p, reference, cellsOnly: true);
            return logits;
        }, device, repeats: 1) / (Board.Cells - 1);

        model.UseKernels(new KernelChoice(kernels, "the check's"));
        using var steps = model.CaptureGreedySteps(cells, captured) ?? throw new InvalidOperationException("the fused kernels captured no steps");
        steps.Run(1, 2, default);
        var actual = steps.Logits.clone();
        double capturedMs = FusedKernelCheck.Time(() =>
        {
            steps.Run(1, Board.Cells, default);
            return steps.Logits;
        }, device, repeats: 1) / (Board.Cells - 1);
        return FusedKernelCheck.Compare("captured step: logits of '0', '1' (ms: a step, over a board's 1,023)", $"batch {batch}, initial weights",
            expected, actual, StepUlps, libtorchMs, capturedMs);
    }
}
