using System.CommandLine;
using System.Globalization;
using Conway.Cli.CommandLine;
using Conway.Decoding;
using Conway.Kernels;
using Conway.Model;
using TorchSharp;

namespace Conway.Cli.Commands;

/// <summary>
/// <c>conway kernels</c>: compiles the fused decoding kernels for a CUDA device (or says why they cannot run there) and
/// checks each against the libtorch operations it replaces (<see cref="FusedKernelCheck"/>), and the captured CUDA graphs
/// against the same work call by call (<see cref="CapturedStepCheck"/>, <see cref="CapturedPassCheck"/>): a Markdown table of
/// the largest difference against its tolerance and both times. Exit code 1 when a kernel is over its tolerance, or cannot run.
/// </summary>
public static class KernelsCommand
{
    public static Command Create()
    {
        var device = CliOptions.Device();
        var boards = CliOptions.Whole("--pass-boards", 256, "boards in the pass-sized checks (2,068 positions each)", min: 1);
        var batch = CliOptions.Whole("--step-batch", 512, "boards in the step-sized checks (also run with 1)", min: 1);
        var position = CliOptions.Whole("--step-position", 1559, "the step's position (it attends over this many cached positions and itself)", min: 1);
        var repeats = CliOptions.Whole("--repeats", 20, "timed runs of each side, after one warm-up", min: 1);
        var command = new Command("kernels", "the fused CUDA kernels: compile them, check each against libtorch on random inputs, time both")
        {
            device, boards, batch, position, repeats,
        };
        command.SetAction(parsed => Run(parsed.GetRequiredValue(device), parsed.GetValue(boards), parsed.GetValue(batch),
            Math.Min(parsed.GetValue(position), LifeGptShape.Context - 2), parsed.GetValue(repeats),
            parsed.InvocationConfiguration.Output, parsed.InvocationConfiguration.Error));
        return command;
    }

    private static int Run(string deviceName, int boards, int batch, int position, int repeats, TextWriter output, TextWriter error)
    {
        var device = Devices.Check(deviceName);
        var choice = KernelChoice.For("auto", device, torch.ScalarType.BFloat16);
        error.WriteLine($"kernels: {device}: {choice.Description}");
        if (choice.Kernels is not { } kernels) return 1;
        var results = FusedKernelCheck.Run(kernels, device, boards, batch, position, repeats).Concat(CapturedStepCheck.Run(kernels, device))
            .Concat(kernels.GraphsUnavailable is null ? CapturedPassCheck.Run(kernels, device, repeats) : []).ToArray();
        output.WriteLine($"Fused kernels against libtorch on {device} ({kernels.Description}), {DateTime.UtcNow:yyyy-MM-dd}, random bfloat16 inputs, mean of {repeats} synchronised runs");
        output.WriteLine();
        output.WriteLine("| kernel | size | max difference (bf16 ulps) | tolerance (ulps) | max abs. difference | libtorch ms | fused ms | speed-up |");
        output.WriteLine("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var r in results)
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Kernel} | {r.Size} | {r.MaxUlps:0.##}{(r.Passed ? "" : " (over)")} | {r.ToleranceUlps:0} | {r.MaxAbsolute:G3} | {Ms(r.LibtorchMs)} | {Ms(r.FusedMs)} | {(r.FusedMs > 0 ? $"{r.LibtorchMs / r.FusedMs:F2}x" : "-")} |"));
        return results.All(r => r.Passed) ? 0 : 1;
    }

    private static string Ms(double ms) => ms > 0 ? ms.ToString("F3", CultureInfo.InvariantCulture) : "-";
}
