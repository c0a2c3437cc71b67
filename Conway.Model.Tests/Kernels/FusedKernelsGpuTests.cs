using Conway.Boards;
using Conway.Decoding;
using Conway.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace Conway.Model.Tests.Kernels;

/// <summary>A fact that needs a CUDA device with the fused kernels' NVRTC and driver: skipped, with the reason, elsewhere.</summary>
public sealed class FusedKernelsFactAttribute : FactAttribute
{
    public FusedKernelsFactAttribute()
    {
        if (!cuda.is_available()) Skip = "needs a CUDA GPU (the fused kernels run on CUDA only; conway kernels checks them on the GPU machine)";
        else if (FusedKernels.For(0, out string reason) is null) Skip = $"the fused kernels cannot run here: {reason}";
    }
}

/// <summary>The fused kernels on a GPU: each against libtorch, and whole decodes against libtorch's.</summary>
public sealed class FusedKernelsGpuTests
{
    [FusedKernelsFact]
    public void EveryKernel_AgreesWithTheLibtorchOperationsItReplaces_WithinItsTolerance()
    {
        var results = FusedKernelCheck.Run(FusedKernels.For(0, out _)!, CUDA, passBoards: 8, stepBatch: 16, stepPosition: 1559, repeats: 1);

        Assert.All(results, r => Assert.True(r.Passed, $"{r.Kernel} ({r.Size}): {r.MaxUlps} ulps, tolerance {r.ToleranceUlps}"));
    }

    [FusedKernelsFact]
    public void DecodingOnTheFusedKernels_GivesLibtorchsBoards_ForBothStrategies()
    {
        using var fused = LifeGptPredictor.Load(Repository.ShippedModel, "cuda", kernels: "fused");
        using var libtorch = LifeGptPredictor.Load(Repository.ShippedModel, "cuda", kernels: "libtorch");
        var boards = Enumerable.Range(0, 32).Select(i => Board.Random((i % 19 + 1) / 20.0, new Random(i))).ToArray();

        foreach (var strategy in new[] { DecodeStrategy.Speculative, DecodeStrategy.Autoregressive })
        {
            var options = DecodeOptions.Greedy with { Strategy = strategy };
            Assert.Equal(libtorch.Predict(boards, options).Select(p => p.Next), fused.Predict(boards, options).Select(p => p.Next));
        }
    }
}
