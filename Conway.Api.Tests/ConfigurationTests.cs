using Conway.Api.Serving;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Options;

namespace Conway.Api.Tests;

/// <summary>Model:Devices, and configuration mistakes that stop the service at startup instead of misbehaving later.</summary>
public sealed class ConfigurationTests
{
    [Theory]
    [InlineData("auto", 0, new[] { "cpu" })]
    [InlineData("auto", 2, new[] { "cuda:0", "cuda:1" })]
    [InlineData(" auto ", 1, new[] { "cuda:0" })]
    [InlineData("cpu,cpu", 4, new[] { "cpu", "cpu" })]
    [InlineData("cuda:1, cuda:0", 0, new[] { "cuda:1", "cuda:0" })]
    [InlineData("cuda", 0, new[] { "cuda" })]
    public void Devices_AutoIsEveryVisibleGpuElseOneCpu_AndAListIsTakenAsGiven(string devices, int gpus, string[] expected)
    {
        Assert.Equal(expected, DeviceList.Resolve(devices, () => gpus));
    }

    [Theory]
    [InlineData(true, 8)]
    [InlineData(false, 256)]
    public void MaxRollouts_Unset_Is8OnCpuWorkers_And256OnCuda_AndAGivenValueStays(bool cpuOnly, int expected)
    {
        var unset = new ModelOptions();
        var given = new ModelOptions { MaxRollouts = 3 };

        unset.ApplyDeviceDefaults(cpuOnly);
        given.ApplyDeviceDefaults(cpuOnly);

        Assert.Equal((expected, 3), (unset.MaxRollouts, given.MaxRollouts));
        Assert.Equal((1000, 600_000), (unset.MaxRolloutSteps, unset.MaxRolloutDeadlineMs));
    }

    [Fact]
    public async Task ContentRoot_IsTheBinariesFolder_UnlessOneIsGiven()
    {
        Assert.Equal(AppContext.BaseDirectory, ContentRoot.Options([]).ContentRootPath);
        Assert.Null(ContentRoot.Options(["--contentRoot", "/srv/conway"]).ContentRootPath);
        Assert.Null(ContentRoot.Options(["--contentroot=/srv/conway"]).ContentRootPath);

        await using var api = new ApiFactory();   // gives the project folder as the content root, which stays
        api.CreateClient();
        Assert.Equal("Conway.Api", Path.GetFileName(api.Services.GetRequiredService<IWebHostEnvironment>().ContentRootPath.TrimEnd('/')));
    }

    [Theory]
    [InlineData("Model:Devices", "gpu", "Model:Devices is 'auto' or a comma-separated list")]
    [InlineData("Model:Devices", "cpu,,cpu", "Model:Devices is 'auto' or a comma-separated list")]
    [InlineData("Model:SelfTestPatterns", "glider, gosper-gun", "unknown: 'gosper-gun'")]
    [InlineData("Model:Precision", "fp16", "Model:Precision is auto, bf16 or fp32")]
    [InlineData("Model:Kernels", "triton", "Model:Kernels is auto, fused or libtorch")]
    [InlineData("Model:Breaker:BreakSeconds", "0.1", "BreakSeconds")]
    [InlineData("Model:MaxDeadlineMs", "-1", "MaxDeadlineMs")]
    [InlineData("Model:MaxRolloutSteps", "0", "MaxRolloutSteps")]
    [InlineData("Model:MaxRolloutDeadlineMs", "0", "MaxRolloutDeadlineMs")]
    [InlineData("Model:MaxRollouts", "-1", "MaxRollouts")]
    [InlineData("Model:ShutdownDelaySeconds", "-1", "ShutdownDelaySeconds")]
    [InlineData("Model:DrainSeconds", "3601", "DrainSeconds")]
    [InlineData("Auth:ApiKeys:0", "short", "at least 16 characters")]
    [InlineData("Auth:MaxFailures", "-1", "MaxFailures")]
    [InlineData("Auth:FailureWindowSeconds", "0", "FailureWindowSeconds")]
    [InlineData("RateLimit:Burst", "0", "Burst")]
    public async Task InvalidConfiguration_StopsTheServiceAtStartup_SayingWhatIsWrong(string key, string value, string message)
    {
        await using var api = new ApiFactory { Settings = { [key] = value } };

        var thrown = Record.Exception(() => api.CreateClient());

        // the factory throws the validation error, or (when the failed host is already disposed) ObjectDisposedException
        var error = thrown as OptionsValidationException
            ?? api.Logs.AtLeast(LogLevel.Error).Select(entry => entry.Error).OfType<OptionsValidationException>().FirstOrDefault();
        Assert.NotNull(thrown);
        Assert.NotNull(error);
        Assert.Contains(message, error.Message);
    }
}
