using Conway.Decoding;
using Conway.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace Conway.Model.Tests.Kernels;

/// <summary>Which kernels a model decodes with: the choice, its fallbacks and the reasons it gives, on this CPU machine.</summary>
public sealed class KernelChoiceTests
{
    private static (FusedKernels?, string) MustNotCompile() => throw new InvalidOperationException("compiled where the kernels cannot run");

    [Fact]
    public void Libtorch_WhenAskedFor_NeverCompilesTheKernels()
    {
        var choice = KernelChoice.Decide("libtorch", cuda: true, ScalarType.BFloat16, MustNotCompile);

        Assert.Null(choice.Kernels);
        Assert.Equal("libtorch kernels (asked for)", choice.Description);
    }

    [Fact]
    public void Auto_OnTheCpu_ChoosesLibtorch_SayingWhy_WithoutCompiling()
    {
        var choice = KernelChoice.Decide("auto", cuda: false, ScalarType.BFloat16, MustNotCompile);

        Assert.Null(choice.Kernels);
        Assert.Equal("libtorch kernels (the fused kernels run on CUDA devices only)", choice.Description);
    }

    [Fact]
    public void Auto_WithFloat32WeightsOnCuda_ChoosesLibtorch_SayingWhy_WithoutCompiling()
    {
        var choice = KernelChoice.Decide("auto", cuda: true, ScalarType.Float32, MustNotCompile);

        Assert.Null(choice.Kernels);
        Assert.Equal("libtorch kernels (the fused kernels are bfloat16 and the weights are Float32)", choice.Description);
    }

    [Fact]
    public void Auto_WhenTheKernelsDoNotCompile_FallsBackToLibtorch_WithTheCompilersReason()
    {
        var choice = KernelChoice.Decide("auto", cuda: true, ScalarType.BFloat16, () => (null, "no NVRTC: none of libnvrtc.so.13 is on the library path"));

        Assert.Null(choice.Kernels);
        Assert.Equal("libtorch kernels (no NVRTC: none of libnvrtc.so.13 is on the library path)", choice.Description);
    }

    [Theory]
    [InlineData(false, ScalarType.BFloat16, "the fused kernels run on CUDA devices only")]
    [InlineData(true, ScalarType.Float32, "the fused kernels are bfloat16 and the weights are Float32")]
    public void Fused_WhereTheKernelsCannotRun_FailsTheLoad_SayingWhy(bool cuda, ScalarType dtype, string why)
    {
        var failure = Assert.Throws<InvalidOperationException>(() => KernelChoice.Decide("fused", cuda, dtype, MustNotCompile));

        Assert.Equal($"the fused kernels were asked for but cannot run: {why}", failure.Message);
    }

    [Fact]
    public void Fused_WhenTheKernelsDoNotCompile_FailsTheLoad_WithTheCompilersReason()
    {
        var failure = Assert.Throws<InvalidOperationException>(() =>
            KernelChoice.Decide("fused", cuda: true, ScalarType.BFloat16, () => (null, "NVRTC could not compile DecodingKernels.cu for sm_90: error")));

        Assert.Equal("the fused kernels were asked for but cannot run: NVRTC could not compile DecodingKernels.cu for sm_90: error", failure.Message);
    }

    [Fact]
    public void AnUnknownMode_IsRejected_NamingTheModes()
    {
        var failure = Assert.Throws<ArgumentException>(() => KernelChoice.Decide("triton", cuda: true, ScalarType.BFloat16, MustNotCompile));

        Assert.StartsWith("kernels are auto, fused, libtorch, not 'triton'", failure.Message);
    }

    [Fact]
    public void OnAMachineWithoutTheCudaDriver_TheKernelsForADeviceAreNull_NamingTheMissingLibrary()
    {
        Assert.False(cuda.is_available(), "this test describes a machine without CUDA");

        var kernels = FusedKernels.For(0, out string reason);

        Assert.Null(kernels);
        Assert.Equal("no CUDA driver API: none of libcuda.so.1, libcuda.so, nvcuda.dll is on the library path", reason);
    }

    [Fact]
    public void TheShippedModelOnTheCpu_DecodesOnLibtorchKernels_AndItsInfoSaysWhy()
    {
        using var predictor = LifeGptPredictor.Load(Repository.ShippedModel, "cpu");

        Assert.Null(predictor.Model.Kernels.Kernels);
        Assert.Equal("libtorch kernels (the fused kernels run on CUDA devices only)", predictor.Info.Kernels);
    }
}
