using System.Text.RegularExpressions;
using Conway.Kernels;

namespace Conway.Model.Tests.Kernels;

/// <summary>What the kernel layer can check without a GPU: the embedded source and how attention is split.</summary>
public sealed class FusedKernelsSourceTests
{
    [Fact]
    public void TheEmbeddedSource_DefinesEveryKernelTheBindingsLoad_AndNoOther()
    {
        var defined = Regex.Matches(FusedKernels.Source(), @"extern ""C"" __global__ void (?:__launch_bounds__\(\d+\) )?(\w+)\(")
            .Select(m => m.Groups[1].Value).Order();
        var bound = Regex.Matches(File.ReadAllText(Path.Combine(Repository.Root, "Conway.Model", "Kernels", "FusedKernels.cs")), @"driver\.Function\(module, ""(\w+)""\)")
            .Select(m => m.Groups[1].Value).Order();

        Assert.Equal(["add_layer_norm", "attend_combine", "attend_step", "attend_step_at", "rotary_pass", "rotary_step",
            "step_choose", "step_embed", "step_ff_in", "step_ff_out", "step_out", "step_qkv"], defined);
        Assert.Equal(defined, bound);
    }

    [Fact]
    public void TheKernelsShapes_AreLifeGpts()
    {
        Assert.Equal((LifeGptShape.Dim, LifeGptShape.Heads, LifeGptShape.HeadDim, LifeGptShape.RotaryDim),
            (FusedKernels.Dim, FusedKernels.Heads, FusedKernels.HeadDim, FusedKernels.RotaryDim));
    }

    [Fact]
    public void TheEmbeddedSource_NeedsNoHeader()
    {
        Assert.DoesNotContain("#include", FusedKernels.Source());
    }

    [Fact]
    public void TheCapturedStepsBatchLimit_IsTheKernelsStepBatch()
    {
        Assert.Matches($@"#define STEP_BATCH {GreedySteps.MaxBatch}\b", FusedKernels.Source());
    }

    [Theory]
    [InlineData(1, 132, 64)]
    [InlineData(8, 132, 64)]
    [InlineData(8, 16, 8)]
    [InlineData(3, 1, 1)]
    public void CapturedStepsSplitAttention_InFourBlocksAMultiprocessor_AtMost64(int batch, int multiprocessors, int splits)
    {
        Assert.Equal(splits, GreedySteps.Splits(batch, multiprocessors));
    }

    [Theory]
    [InlineData(1, 1045, 132)]
    [InlineData(1, 2068, 132)]
    [InlineData(64, 1500, 132)]
    [InlineData(512, 1560, 132)]
    [InlineData(1024, 2068, 132)]
    [InlineData(3, 1, 132)]
    [InlineData(7, 33, 16)]
    public void AttentionSplits_CoverTheLengthOnce_InWarpMultiples_AndFillTheCard(int batch, int length, int multiprocessors)
    {
        var (splits, chunk) = FusedKernels.Splits(batch, length, multiprocessors);

        Assert.Equal(0, chunk % 32);
        Assert.True(splits * chunk >= length, "the splits cover every position");
        Assert.True((splits - 1) * chunk < length, "no split is empty");
        Assert.InRange(splits, 1, FusedKernels.MaxSplits);
        Assert.True(batch * splits >= Math.Min(4 * multiprocessors, batch * ((length + 63) / 64)),
            $"{batch} x {splits} blocks: four a multiprocessor, unless splits would be shorter than 64 positions");
    }
}
