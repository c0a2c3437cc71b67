using static TorchSharp.torch;

namespace Conway.Model;

/// <summary>
/// Keys and values of every attention block for B sequences, preallocated for the full 2071-token context
/// (never grown by concatenation): [B, heads, 2071, 64] per block, written in place.
/// </summary>
public sealed class KvCache : IDisposable
{
    private readonly LayerCache[] _layers;

    public KvCache(long batch, ScalarType dtype, Device device)
    {
        _layers = Enumerable.Range(0, LifeGptShape.Blocks / 2).Select(_ => new LayerCache(batch, dtype, device)).ToArray();
    }

    private KvCache(LayerCache[] layers) => _layers = layers;

    public LayerCache Layer(int attentionIndex) => _layers[attentionIndex];

    /// <summary>A new cache holding only the given sequences (rows of the batch), in that order.</summary>
    public KvCache Select(Tensor rows) => new(_layers.Select(l => l.Select(rows)).ToArray());

    /// <summary>Bytes held on the device.</summary>
    public long Bytes => _layers.Sum(l => l.Bytes);

    public void Dispose()
    {
        foreach (var l in _layers) l.Dispose();
    }
}

public sealed class LayerCache : IDisposable
{
    private readonly Tensor _k, _v;

    internal LayerCache(long batch, ScalarType dtype, Device device)
    {
        long[] shape = [batch, LifeGptShape.Heads, LifeGptShape.Context, LifeGptShape.HeadDim];
        _k = empty(shape, dtype, device).DetachFromDisposeScope();   // owned by the cache, not by a caller's scope
        _v = empty(shape, dtype, device).DetachFromDisposeScope();
    }

    private LayerCache(Tensor k, Tensor v)
    {
        _k = k.DetachFromDisposeScope();
        _v = v.DetachFromDisposeScope();
    }

    internal LayerCache Select(Tensor rows) => new(_k.index_select(0, rows), _v.index_select(0, rows));

    internal long Bytes => 2 * _k.NumberOfElements * _k.ElementSize;

    /// <summary>Stores k, v [B, H, L, 64] at positions start..start+L-1.</summary>
    public void Write(int start, Tensor k, Tensor v)
    {
        long l = k.shape[2];
        _k.narrow(2, start, l).copy_(k);
        _v.narrow(2, start, l).copy_(v);
    }

    /// <summary>Views of the keys and values at positions 0..end-1.</summary>
    public (Tensor Keys, Tensor Values) Upto(int end) => (_k.narrow(2, 0, end), _v.narrow(2, 0, end));

    public void Dispose()
    {
        _k.Dispose();
        _v.Dispose();
    }
}
