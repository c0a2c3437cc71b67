using Conway.Boards;
using Conway.Codec;
using Conway.Kernels;
using Conway.Model;
using static TorchSharp.torch;

namespace Conway.Decoding;

/// <summary>
/// The captured verification pass (<see cref="CapturedVerification"/>) against the same pass call by call, on a LifeGpt
/// with its initial random weights in bfloat16 on one CUDA device, on the fused kernels both ways: random boards with the
/// rule's next state as the draft, the cells each way chooses, each board's verdict and the cells' margins (the same calls on the same
/// shapes: they must be equal, tolerance 0), and a pass's time each way (the verdict read on the host included).
/// <c>conway kernels</c> prints the rows beside <see cref="FusedKernelCheck"/>'s.
/// </summary>
public static class CapturedPassCheck
{
    public static IReadOnlyList<FusedKernelCheck.Result> Run(FusedKernels kernels, Device device, int repeats)
    {
        using var _ = inference_mode();
        var generator = manual_seed(5);
        using var model = new LifeGpt();
        model.MoveTo(device, ScalarType.BFloat16);
        model.UseKernels(new KernelChoice(kernels, "the check's"));
        var results = new[] { 1, FusedKernels.MaxCapturedPassBatch }.Select(batch => Pass(model, device, batch, repeats)).ToArray();
        GC.KeepAlive(generator);
        return results;
    }

    private static FusedKernelCheck.Result Pass(LifeGpt model, Device device, int batch, int repeats)
    {
        using var scope = NewDisposeScope();
        var boards = Enumerable.Range(0, batch).Select(i => Board.Random(0.1 + 0.8 * i / batch, new Random(i))).ToArray();
        var sequences = LifeGptCodec.Drafted(boards, boards.Select(b => LifeRule.Step(b)).ToArray(), device);
        var settled = tensor(Enumerable.Range(0, batch).Select(b => (long)(b * 37 % 100)).ToArray(), ScalarType.Int64, device).unsqueeze(1);

        Tensor CallByCall()
        {
            var (choices, verdicts, margins) = CapturedVerification.Score(model, sequences, settled);
            return cat([choices.to(ScalarType.Float32), verdicts.to(ScalarType.Float32), margins], 1).cpu();
        }
        var captured = CapturedVerification.For(model, batch) ?? throw new InvalidOperationException($"no pass of {batch} boards was captured: {model.Kernels.Description}");
        Tensor Replayed()
        {
            var (choices, verdicts, margins) = captured.Run(sequences, settled);
            return cat([choices.to(ScalarType.Float32), verdicts.to(ScalarType.Float32), margins], 1).cpu();
        }

        var expected = CallByCall();
        var actual = Replayed();
        double callByCallMs = FusedKernelCheck.Time(CallByCall, device, repeats), capturedMs = FusedKernelCheck.Time(Replayed, device, repeats);
        return FusedKernelCheck.Compare("captured pass: cells chosen, verdicts and margins (ms: a greedy pass, call by call / replayed)", $"batch {batch}, initial weights",
            expected, actual, 0, callByCallMs, capturedMs);
    }
}
