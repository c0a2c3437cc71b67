using Conway.Kernels;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Conway.Model;

/// <summary>
/// Decoding's residual stream x [N, 256], updated in place: each block reads <see cref="Normalize">its pre-norm of x</see>
/// and <see cref="Add">adds its output</see> to x. With libtorch's kernels the output is added at once; with the
/// <see cref="FusedKernels"/> it is held until the next norm, which adds it and normalises in one kernel (the residual
/// add then costs no pass over memory of its own).
/// </summary>
internal sealed class ResidualStream(Tensor x, FusedKernels? kernels) : IDisposable
{
    private Tensor? _pending;                                    // a block's output not yet added (fused kernels only)

    /// <summary>LayerNorm(x) * weight (no bias), the pending output added to x first.</summary>
    public Tensor Normalize(Tensor weight)
    {
        if (kernels is null) return F.layer_norm(x, [LifeGptShape.Dim], weight, null, LifeGptShape.NormEps);
        var normed = kernels.AddLayerNorm(x, _pending, weight, LifeGptShape.NormEps);
        DisposePending();
        return normed;
    }

    /// <summary>x += y (y [N, 256]).</summary>
    public void Add(Tensor y)
    {
        if (kernels is null)
        {
            x.add_(y, Scalars.One);
            return;
        }
        Flush();
        _pending = y.DetachFromDisposeScope();                  // owned here until a norm adds it: it outlives the layer's scope
    }

    /// <summary>x += a bT as one GEMM with libtorch's kernels (addmm: a new x), or as a pending output.</summary>
    public void AddProduct(Tensor a, Tensor bT)
    {
        if (kernels is null) x = addmm(x, a, bT, 1, 1);
        else Add(a.matmul(bT));
    }

    /// <summary>
    /// Keeps only rows [b, from..from+count) of each of b sequences of l rows: a contiguous copy (the fused kernels take
    /// no strides; one row a sequence would otherwise be a strided view) in the caller's outer scope.
    /// </summary>
    public void Narrow(long b, long l, long from, long count)
    {
        Flush();
        x = x.view(b, l, LifeGptShape.Dim).narrow(1, from, count).reshape(-1, LifeGptShape.Dim).contiguous().MoveToOuterDisposeScope();
    }

    private void Flush()
    {
        if (_pending is null) return;
        x.add_(_pending, Scalars.One);
        DisposePending();
    }

    private void DisposePending()
    {
        _pending?.Dispose();                                     // the kernels that read it are ordered before any reuse on the stream
        _pending = null;
    }

    public void Dispose() => DisposePending();
}
