using Conway.Boards;
using Conway.Decoding;
using Conway.Kernels;
using Conway.Model.Tests.Kernels;
using static TorchSharp.torch;

namespace Conway.Model.Tests.Decoding;

/// <summary>
/// Speculative verification passes as replays of a captured CUDA graph: the verdict every pass reads, when a pass is
/// captured at all, and (on a GPU) that captured passes decode what passes call by call decode.
/// </summary>
public sealed class CapturedVerificationTests
{
    [Fact]
    public void Verdicts_GiveEachBoardsFirstRejection_AtOrAfterItsSettledCells_RelativeToTheFirstCellScored()
    {
        using var scope = NewDisposeScope();
        // cells 10..1023 scored (from = 10); board 0 rejects 12 and 20, board 1 rejects 12 but has settled 15 of its
        // cells, so its first rejection is 30; board 2 rejects only cells it has settled
        var rejected = zeros(3, Board.Cells - 10, ScalarType.Bool);
        rejected[0, 2] = tensor(true);
        rejected[0, 10] = tensor(true);
        rejected[1, 2] = tensor(true);
        rejected[1, 20] = tensor(true);
        rejected[2, 5] = tensor(true);
        var settled = tensor(new long[] { 10, 15, 16 }).unsqueeze(1);

        var verdicts = SpeculativeRun.Verdicts(rejected, 10, settled).data<long>().ToArray();

        Assert.Equal(new long[] { 1, 2, 1, 20, 0, 0 }, verdicts);
    }

    [Fact]
    public void OffCuda_LibtorchsGraphCalls_DoNotBind_AndSayWhy()
    {
        Assert.Null(LibtorchGraphs.TryLoad(out string reason));
        Assert.Contains("libc10_cuda.so", reason);
    }

    [Fact]
    public void OnLibtorchsKernels_NoPassIsCaptured()
    {
        using var model = new LifeGpt();

        Assert.Equal("libtorch", model.Kernels.Name);
        Assert.Null(CapturedVerification.For(model, 1));
    }

    [FusedKernelsFact]
    public void SpeculativeGreedyDecoding_OnCapturedPasses_GivesTheCallByCallBoardsAndPasses_ForBatchesUpTo8()
    {
        using var predictor = LifeGptPredictor.Load(Repository.ShippedModel, "cuda", kernels: "fused");
        var boards = Enumerable.Range(0, 24).Select(i => Board.Random((i % 19 + 1) / 20.0, new Random(i))).ToArray();
        var callByCall = DecodeOptions.Greedy with { CudaGraphs = false };

        foreach (int batch in new[] { 1, 3, FusedKernels.MaxCapturedPassBatch })
        {
            var part = boards.Take(batch * 3).Chunk(batch).ToArray();
            var captured = part.SelectMany(b => predictor.Predict(b, callByCall with { CudaGraphs = true })).Select(p => (p.Next, p.Passes));
            Assert.Equal(part.SelectMany(b => predictor.Predict(b, callByCall)).Select(p => (p.Next, p.Passes)), captured);
        }
    }
}
