using TorchSharp;
using static TorchSharp.torch;

namespace Conway.Kernels;

/// <summary>
/// The checks every <see cref="FusedKernels"/> call makes before it hands raw device addresses to a kernel: the kernels
/// index memory by the model's shapes, so a tensor of another dtype, device, shape or layout would be read out of
/// bounds rather than fail. Each throws <see cref="ArgumentException"/> naming the argument. A one-board decode step is
/// bound by host time, and every TorchSharp property is a native call: each check reads a tensor's shape once.
/// </summary>
internal static class KernelArguments
{
    /// <summary>A contiguous bfloat16 matrix [rows, width] on the CUDA device; returns the rows.</summary>
    public static long Rows(Tensor t, long width, int deviceIndex, string name)
    {
        var shape = t.shape;
        if (shape.Length != 2 || shape[1] != width)
            throw new ArgumentException($"{name} must be [rows, {width}], not {Text(shape)}", name);
        Stored(t, deviceIndex, name);
        return shape[0];
    }

    /// <summary>A contiguous int64 matrix of tokens [rows, width] on the CUDA device; returns the rows.</summary>
    public static long Tokens(Tensor t, long width, int deviceIndex, string name)
    {
        var shape = t.shape;
        if (shape.Length != 2 || shape[1] != width)
            throw new ArgumentException($"{name} must be [rows, {width}], not {Text(shape)}", name);
        Stored(t, deviceIndex, name, ScalarType.Int64);
        return shape[0];
    }

    /// <summary>A tensor of the given shape.</summary>
    public static void Shaped(Tensor t, long[] shape, int deviceIndex, string name)
    {
        var actual = t.shape;
        if (!actual.SequenceEqual(shape))
            throw new ArgumentException($"{name} must be {Text(shape)}, not {Text(actual)}", name);
        Stored(t, deviceIndex, name);
    }

    /// <summary>A rotary table: contiguous, 32 values a position, for at least the given positions.</summary>
    public static void Table(Tensor t, int positions, int deviceIndex, string name)
    {
        var shape = t.shape;
        if (shape[^1] != FusedKernels.RotaryDim || shape.Aggregate(1L, (a, b) => a * b) / FusedKernels.RotaryDim < positions)
            throw new ArgumentException($"{name} must hold {FusedKernels.RotaryDim} values for each of {positions} positions, not {Text(shape)}", name);
        Stored(t, deviceIndex, name);
    }

    /// <summary>A position-major cache [2, T, batch, 8, 64] holding at least the given positions; returns T.</summary>
    public static int Cache(Tensor t, long batch, int positions, int deviceIndex)
    {
        const string name = "cache";
        var shape = t.shape;
        if (shape.Length != 5 || shape[0] != 2 || shape[1] < positions || shape[2] != batch
            || shape[3] != FusedKernels.Heads || shape[4] != FusedKernels.HeadDim)
            throw new ArgumentException($"{name} must be [2, >= {positions}, {batch}, {FusedKernels.Heads}, {FusedKernels.HeadDim}], not {Text(shape)}", name);
        Stored(t, deviceIndex, name);
        return (int)shape[1];
    }

    /// <summary>bfloat16 (or <paramref name="dtype"/>), contiguous, on the kernels' device: checked in that order, after the shape.</summary>
    private static void Stored(Tensor t, int deviceIndex, string name, ScalarType dtype = ScalarType.BFloat16)
    {
        if (t.dtype != dtype)
            throw new ArgumentException($"{name} must be {(dtype == ScalarType.BFloat16 ? "bfloat16" : dtype)}, not {t.dtype}", name);
        if (!t.is_contiguous()) throw new ArgumentException($"{name} must be contiguous", name);
        if (t.device_type != DeviceType.CUDA || t.device_index != deviceIndex)
            throw new ArgumentException($"{name} must be on cuda:{deviceIndex}, not {t.device}", name);
    }

    private static string Text(long[] shape) => $"[{string.Join(", ", shape)}]";
}
