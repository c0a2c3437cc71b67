using Conway.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace Conway.Model.Tests.Kernels;

/// <summary>
/// The host-side checks before a fused kernel gets raw addresses (they run before any native CUDA call, so CPU tensors
/// exercise them: a tensor right in every other way stops at the device check).
/// </summary>
public sealed class KernelArgumentsTests
{
    [Fact]
    public void ARowMatrixOfTheWrongWidth_IsRejected_WithItsShape()
    {
        using var x = zeros(4, 255, ScalarType.BFloat16);

        var failure = Assert.Throws<ArgumentException>(() => KernelArguments.Rows(x, 256, 0, "x"));

        Assert.StartsWith("x must be [rows, 256], not [4, 255]", failure.Message);
    }

    [Fact]
    public void AFloat32Tensor_IsRejected_NamingItsDtype()
    {
        using var x = zeros(4, 256, ScalarType.Float32);

        var failure = Assert.Throws<ArgumentException>(() => KernelArguments.Rows(x, 256, 0, "x"));

        Assert.StartsWith("x must be bfloat16, not Float32", failure.Message);
    }

    [Fact]
    public void AStridedView_IsRejected_AsNotContiguous()
    {
        using var wide = zeros(4, 512, ScalarType.BFloat16);
        using var x = wide.narrow(1, 0, 256);

        var failure = Assert.Throws<ArgumentException>(() => KernelArguments.Rows(x, 256, 0, "x"));

        Assert.StartsWith("x must be contiguous", failure.Message);
    }

    [Fact]
    public void TokensThatAreNotInt64_AreRejected_NamingTheirDtype()
    {
        using var cells = zeros(2, 1024, ScalarType.Int32);

        Assert.StartsWith("cells must be Int64, not Int32", Assert.Throws<ArgumentException>(() => KernelArguments.Tokens(cells, 1024, 0, "cells")).Message);
    }

    [Fact]
    public void ATensorRightInEveryOtherWay_OnTheCpu_IsRejected_NamingTheDevice()
    {
        using var x = zeros(4, 256, ScalarType.BFloat16);

        var failure = Assert.Throws<ArgumentException>(() => KernelArguments.Rows(x, 256, 0, "x"));

        Assert.StartsWith("x must be on cuda:0, not cpu", failure.Message);
    }

    [Fact]
    public void ACacheForAnotherBatch_OrTooShort_IsRejected()
    {
        using var cache = zeros(new long[] { 2, 2072, 3, 8, 64 }, ScalarType.BFloat16);

        Assert.StartsWith("cache must be [2, >= 100, 4, 8, 64], not [2, 2072, 3, 8, 64]",
            Assert.Throws<ArgumentException>(() => KernelArguments.Cache(cache, 4, 100, 0)).Message);
        Assert.StartsWith("cache must be [2, >= 2073, 3, 8, 64]",
            Assert.Throws<ArgumentException>(() => KernelArguments.Cache(cache, 3, 2073, 0)).Message);
        Assert.StartsWith("cache must be on cuda:0",
            Assert.Throws<ArgumentException>(() => KernelArguments.Cache(cache, 3, 2072, 0)).Message);
    }

    [Fact]
    public void ARotaryTableShorterThanThePositions_IsRejected()
    {
        using var table = zeros(new long[] { 100, 1, 32 }, ScalarType.BFloat16);

        Assert.StartsWith("cos must hold 32 values for each of 101 positions, not [100, 1, 32]",
            Assert.Throws<ArgumentException>(() => KernelArguments.Table(table, 101, 0, "cos")).Message);
        Assert.StartsWith("cos must be on cuda:0",
            Assert.Throws<ArgumentException>(() => KernelArguments.Table(table, 100, 0, "cos")).Message);
    }

    [Fact]
    public void AVectorOfAnotherShape_IsRejected()
    {
        using var weight = zeros(2, 128, ScalarType.BFloat16);

        Assert.StartsWith("weight must be [256], not [2, 128]",
            Assert.Throws<ArgumentException>(() => KernelArguments.Shaped(weight, [256], 0, "weight")).Message);
    }
}
