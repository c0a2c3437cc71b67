using static TorchSharp.torch;

namespace Conway.Model;

/// <summary>
/// Keys and values of every attention block for B sequences, preallocated for the full 2071-token context
/// (never grown by concatenation) and written in place.
/// </summary>
public sealed class KvCache : IDisposable
{
    private readonly LayerCache[] _layers;

    public KvCache(long batch, ScalarType dtype, Device device)
        : this(Enumerable.Range(0, LifeGptShape.Blocks / 2).Select(_ => new LayerCache(batch, dtype, device)).ToArray()) { }

    private KvCache(LayerCache[] layers) => _layers = layers;

    public LayerCache Layer(int attentionIndex) => _layers[attentionIndex];

    /// <summary>A new cache holding only the given sequences (rows of the batch), in that order.</summary>
    public KvCache Select(Tensor rows) => new(_layers.Select(l => l.Select(rows)).ToArray());

    public void Dispose()
    {
        foreach (var l in _layers) l.Dispose();
    }
}

/// <summary>
/// One block's cache, [2, B, heads, 2071, 64]: K and V in one tensor so a decode step stores both with one copy,
/// while K = kv[0] and V = kv[1] each stay contiguous [B, H, T, 64] (batched matmuls read them without a copy).
/// </summary>
public sealed class LayerCache : IDisposable
{
    private readonly Tensor _kv;

    internal LayerCache(long batch, ScalarType dtype, Device device)
        : this(empty([2, batch, LifeGptShape.Heads, LifeGptShape.Context, LifeGptShape.HeadDim], dtype, device)) { }

    private LayerCache(Tensor kv) => _kv = kv.DetachFromDisposeScope();   // owned by the cache, not by a caller's scope

    internal LayerCache Select(Tensor rows) => new(_kv.index_select(1, rows));

    /// <summary>Stores k, v [B, H, L, 64] at positions start..start+L-1.</summary>
    public void Write(int start, Tensor k, Tensor v)
    {
        long l = k.shape[2];
        _kv[0].narrow(2, start, l).copy_(k);
        _kv[1].narrow(2, start, l).copy_(v);
    }

    /// <summary>Stores one position's keys and values, kv [B, 2, H, 64] (K then V), with one copy.</summary>
    public void WriteStep(int position, Tensor kv) => _kv.select(3, position).copy_(kv.transpose(0, 1));

    /// <summary>Views of the keys and values at positions 0..end-1, each [B, H, end, 64].</summary>
    public (Tensor Keys, Tensor Values) Upto(int end) => (_kv[0].narrow(2, 0, end), _kv[1].narrow(2, 0, end));

    public void Dispose() => _kv.Dispose();
}
