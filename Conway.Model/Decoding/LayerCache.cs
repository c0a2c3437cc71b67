using Conway.Model;
using static TorchSharp.torch;

namespace Conway.Decoding;

/// <summary>
/// One attention block's cache, position-major [2, 2072, B, heads, 64]: K then V, and per position all sequences' heads.
/// It holds <see cref="Attention.PaddedContext"/> positions, the longest length a step attends to. A decode step stores a
/// position's keys and values with one copy, and both ways of reading them are views: per head, each sequence's head a
/// [t, 64] matrix (batch stride 64), or per sequence, all heads as one [t, 512] matrix (batch stride 512). Zero-filled,
/// so the padding a step attends past the last written position (masked to weight 0) holds finite numbers.
/// </summary>
public sealed class LayerCache : IAttentionCache, IDisposable
{
    private const int Inner = LifeGptShape.Heads * LifeGptShape.HeadDim;
    private readonly Tensor _kv;
    private (int End, bool PerHead, Tensor KeysT, Tensor Values)? _matrices;

    internal LayerCache(long batch, ScalarType dtype, Device device)
        : this(zeros([2, Attention.PaddedContext, batch, LifeGptShape.Heads, LifeGptShape.HeadDim], dtype, device)) { }

    private LayerCache(Tensor kv) => _kv = kv.DetachFromDisposeScope();   // owned by the cache, not by a caller's scope

    internal LayerCache Select(Tensor rows) => new(_kv.index_select(2, rows));

    public Tensor PositionMajor => _kv;

    public void Write(int start, Tensor k, Tensor v)
    {
        var at = _kv.narrow(1, start, k.shape[1]);
        at[0].copy_(k.transpose(0, 1));
        at[1].copy_(v.transpose(0, 1));
    }

    public void WriteStep(int position, Tensor kv) => _kv.select(1, position).copy_(kv.transpose(0, 1));

    public (Tensor Keys, Tensor Values) Upto(int end)
    {
        var upto = _kv.narrow(1, 0, end);
        return (upto[0].permute(1, 2, 0, 3), upto[1].permute(1, 2, 0, 3));
    }

    /// <summary>
    /// As <see cref="IAttentionCache.Matrices"/>. Kept until the request changes: a step's padded length changes every
    /// 8 steps, and building the views takes 5 TorchSharp calls per block, ~20% of a one-board step's host time.
    /// </summary>
    public (Tensor KeysT, Tensor Values) Matrices(int end, bool perHead)
    {
        if (_matrices is not { } m || m.End != end || m.PerHead != perHead)
        {
            DisposeMatrices();
            using var scope = NewDisposeScope();
            var upto = _kv.narrow(1, 0, end).view(2, end, -1, perHead ? LifeGptShape.HeadDim : Inner);   // [2, t, B*H or B, 64 or 512]
            m = (end, perHead, upto[0].permute(1, 2, 0).DetachFromDisposeScope(), upto[1].transpose(0, 1).DetachFromDisposeScope());
            _matrices = m;
        }
        return (m.KeysT, m.Values);
    }

    private void DisposeMatrices()
    {
        _matrices?.KeysT.Dispose();
        _matrices?.Values.Dispose();
        _matrices = null;
    }

    public void Dispose()
    {
        DisposeMatrices();
        _kv.Dispose();
    }
}
