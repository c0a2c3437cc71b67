using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Conway.Training;

/// <summary>
/// A model's parameters as views of one float32 buffer, and their gradients as views of another, so that zeroing,
/// clipping and AdamW are a few kernels over all 12.7M values (<see cref="All"/>) instead of about ten for each of the
/// 124 tensors, launched one by one from C# by TorchSharp's optimizer. Autograd adds into a gradient that exists in
/// place, so the gradients stay views of the buffer. The clipping here never reads the norm back: libtorch's
/// <c>clip_grad_norm_</c> returns it as a double, which made every step wait for the device before the optimizer.
/// </summary>
internal sealed class FlatParameters : IDisposable
{
    private readonly Tensor _grads;
    private readonly Scalar _maxNorm, _epsilon, _one;

    /// <summary>Every parameter at once: what the optimizer steps (its gradient is all the parameters' gradients).</summary>
    public Parameter All { get; }

    /// <summary>Moves the parameters (all float32, on one device) into the buffer; their values are unchanged.</summary>
    public FlatParameters(IReadOnlyList<Parameter> parameters, double maxNorm)
    {
        var device = parameters[0].device;
        long total = parameters.Sum(p => p.numel());
        using var _ = no_grad();
        var values = empty(total, ScalarType.Float32, device);
        _grads = zeros(total, ScalarType.Float32, device);
        long offset = 0;
        foreach (var p in parameters)
        {
            if (p.dtype != ScalarType.Float32 || p.device_type != device.type || p.device_index != device.index)
                throw new ArgumentException($"every parameter must be float32 on {device}, not {p.dtype} on {p.device}", nameof(parameters));
            long n = p.numel();
            using (var view = values.narrow(0, offset, n).view(p.shape))
            {
                view.copy_(p);
                p.set_(view);                                   // the parameter now lives in the buffer
            }
            using (var grad = _grads.narrow(0, offset, n).view(p.shape)) p.grad = grad;
            offset += n;
        }
        All = new Parameter(values);
        All.grad = _grads;
        (_maxNorm, _epsilon, _one) = (maxNorm.ToScalar(), 1e-6.ToScalar(), 1.0.ToScalar());   // held: see Conway.Model's Scalars
    }

    public void ZeroGrad() => _grads.zero_();

    /// <summary>
    /// Scales the gradients so that their global L2 norm is at most the bound, as <c>clip_grad_norm_</c> does
    /// (coefficient bound / (norm + 1e-6), at most 1), on the device: nothing is read back.
    /// </summary>
    public void ClipGradNorm()
    {
        using var _ = no_grad();
        using var squares = _grads.mul(_grads);
        using var sum = squares.sum(ScalarType.Float64);              // float32 sums over 12.7M values drift (CPU: 1e-3)
        using var norm = sum.sqrt_();
        using var denominator = norm.add(_epsilon, _one);
        using var coefficient = denominator.reciprocal_().mul_(_maxNorm).clamp_max_(_one);
        _grads.mul_(coefficient);
    }

    public void Dispose()
    {
        All.Dispose();
        _grads.Dispose();
        _maxNorm.Dispose();
        _epsilon.Dispose();
        _one.Dispose();
    }
}
