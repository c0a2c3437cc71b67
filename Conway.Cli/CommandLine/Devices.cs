using Conway.Decoding;
using TorchSharp;

namespace Conway.Cli.CommandLine;

/// <summary>--device, resolved: a CUDA device asked for on a machine without one is a usage error, not a crash.</summary>
public static class Devices
{
    public static torch.Device Check(string device)
    {
        try
        {
            return LifeGptPredictor.ResolveDevice(device);
        }
        catch (InvalidOperationException)
        {
            throw new CliUsageException($"--device {device}: no CUDA device is available (this build's backend is CPU-only, or no GPU is visible); use --device cpu or auto");
        }
    }
}
