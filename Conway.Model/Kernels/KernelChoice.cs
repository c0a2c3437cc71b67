using TorchSharp;
using static TorchSharp.torch;

namespace Conway.Kernels;

/// <summary>
/// Which kernels a model decodes with, and why: the <see cref="FusedKernels"/> (<see cref="Kernels"/> set) or libtorch's
/// own (null). Modes: "auto" (the default) takes the fused kernels where they can run, a bfloat16 model on a CUDA device
/// whose NVRTC and driver load, and libtorch's elsewhere; "fused" insists (a load fails, saying why, where they cannot
/// run); "libtorch" never compiles them.
/// </summary>
public sealed record KernelChoice(FusedKernels? Kernels, string Description)
{
    public static IReadOnlyList<string> Modes { get; } = ["auto", "fused", "libtorch"];

    /// <summary>"fused" or "libtorch": the kernels that run (a table's column, where <see cref="Description"/> is a log line).</summary>
    public string Name => Kernels is null ? "libtorch" : "fused";

    public static KernelChoice Libtorch(string why) => new(null, $"libtorch kernels ({why})");

    /// <summary>The choice for a model whose weights are <paramref name="dtype"/> on <paramref name="device"/>.</summary>
    public static KernelChoice For(string mode, Device device, ScalarType dtype) =>
        Decide(mode, device.type == DeviceType.CUDA, dtype, () => (FusedKernels.For(Math.Max(device.index, 0), out string reason), reason));

    /// <summary><see cref="For"/>, given whether the device is CUDA and how to compile the kernels for it (only called when they could run).</summary>
    internal static KernelChoice Decide(string mode, bool cuda, ScalarType dtype, Func<(FusedKernels? Kernels, string Reason)> compile)
    {
        if (!Modes.Contains(mode)) throw new ArgumentException($"kernels are {string.Join(", ", Modes)}, not '{mode}'", nameof(mode));
        if (mode == "libtorch") return Libtorch("asked for");
        string unfit = !cuda ? "the fused kernels run on CUDA devices only"
            : dtype != ScalarType.BFloat16 ? $"the fused kernels are bfloat16 and the weights are {dtype}"
            : "";
        if (unfit == "")
        {
            var (kernels, reason) = compile();
            if (kernels is not null)
                return new(kernels, $"fused kernels ({kernels.Description}; plain greedy steps of up to {GreedySteps.MaxBatch} boards as one captured CUDA graph; " +
                    (kernels.GraphsUnavailable is { } why ? $"speculative passes call by call: {why})" : $"greedy speculative passes of up to {FusedKernels.MaxCapturedPassBatch} boards as captured CUDA graphs)"));
            unfit = reason;
        }
        if (mode == "fused") throw new InvalidOperationException($"the fused kernels were asked for but cannot run: {unfit}");
        return Libtorch(unfit);
    }
}
