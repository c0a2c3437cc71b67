namespace Conway.Cli.Tests;

public sealed class KernelsCommandTests
{
    [Fact]
    public void Kernels_OffTheGpu_SaysWhyTheFusedKernelsCannotRun_AndExits1_WithoutATable()
    {
        var result = ConwayRun.With("kernels", "--device", "cpu");

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("kernels: cpu: libtorch kernels (the fused kernels run on CUDA devices only)", result.Stderr.Trim());
        Assert.Equal("", result.Stdout);
    }
}
