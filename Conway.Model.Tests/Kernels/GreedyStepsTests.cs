using Conway.Decoding;
using Conway.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace Conway.Model.Tests.Kernels;

/// <summary>Greedy plain decoding on captured steps: when it is chosen, what it checks first, and (on a GPU) what it decodes.</summary>
public sealed class GreedyStepsTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(9)]
    public void ABatchOutside1To8_IsRejected_BeforeAnyNativeCall(int boards)
    {
        using var cells = zeros(boards, 1024, ScalarType.Int64);
        var weights = new GreedySteps.Weights(cells, [], cells, 1e-5, cells, '0', cells, cells);

        var failure = Assert.Throws<ArgumentException>(() => GreedySteps.Check(weights, [], cells, 1044, 0));

        Assert.StartsWith($"a captured step takes 1 to 8 boards, not {boards}", failure.Message);
    }

    [Fact]
    public void OnLibtorchsKernels_NoStepsAreCaptured_AndStepsServe()
    {
        using var model = new LifeGpt();
        using var cells = zeros(1, 1024, ScalarType.Int64);
        using var cache = new KvCache(1, model.Dtype, model.Device);

        Assert.Equal("libtorch", model.Kernels.Name);
        Assert.Null(model.CaptureGreedySteps(cells, cache));
    }

    [FusedKernelsFact]
    public void TheCapturedStep_AgreesWithLibtorchsStep_WithinItsTolerance()
    {
        var results = CapturedStepCheck.Run(FusedKernels.For(0, out _)!, CUDA);

        Assert.All(results, r => Assert.True(r.Passed, $"{r.Kernel} ({r.Size}): {r.MaxUlps} ulps, tolerance {r.ToleranceUlps}"));
    }

    [FusedKernelsFact]
    public void PlainGreedyDecoding_OnCapturedSteps_GivesTheStepByStepBoards_ForBatchesUpTo8()
    {
        using var predictor = LifeGptPredictor.Load(Repository.ShippedModel, "cuda", kernels: "fused");
        var boards = Enumerable.Range(0, 24).Select(i => Conway.Boards.Board.Random((i % 19 + 1) / 20.0, new Random(i))).ToArray();
        var stepByStep = DecodeOptions.Greedy with { Strategy = DecodeStrategy.Autoregressive, CudaGraphs = false };

        foreach (int batch in new[] { 1, 3, 8 })
        {
            var part = boards.Take(batch * 3).Chunk(batch).ToArray();
            var captured = part.SelectMany(b => predictor.Predict(b, stepByStep with { CudaGraphs = true })).Select(p => p.Next);
            Assert.Equal(part.SelectMany(b => predictor.Predict(b, stepByStep)).Select(p => p.Next), captured);
        }
    }
}
