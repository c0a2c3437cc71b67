using TorchSharp;

namespace Conway.Api.Serving;

/// <summary>The devices that <see cref="ModelOptions.Devices"/> names, one device worker each.</summary>
public static class DeviceList
{
    public const string Pattern = @"^\s*(auto|(cpu|cuda(:\d+)?)(\s*,\s*(cpu|cuda(:\d+)?))*)\s*$";

    /// <summary><c>auto</c>: cuda:0..cuda:N-1 for the <paramref name="cudaDevices"/> visible GPUs, else one cpu; otherwise the list as given.</summary>
    public static IReadOnlyList<string> Resolve(string devices, Func<int> cudaDevices) =>
        devices.Trim() == "auto"
            ? cudaDevices() is > 0 and var gpus ? [.. Enumerable.Range(0, gpus).Select(i => $"cuda:{i}")] : ["cpu"]
            : devices.Split(',', StringSplitOptions.TrimEntries);

    /// <summary>The CUDA GPUs this process sees (0 with the CPU-only TorchSharp build).</summary>
    public static int VisibleGpus() => torch.cuda.is_available() ? torch.cuda.device_count() : 0;
}
