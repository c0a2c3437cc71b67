using System.Collections;
using Conway.Model;
using static TorchSharp.torch;

namespace Conway.Decoding;

/// <summary>
/// Keys and values of every attention block for B sequences, preallocated for the full context (never grown by
/// concatenation) and written in place: one <see cref="LayerCache"/> per attention block, in the order of the blocks.
/// </summary>
public sealed class KvCache : IReadOnlyList<LayerCache>, IDisposable
{
    private readonly LayerCache[] _layers;

    public KvCache(long batch, ScalarType dtype, Device device)
        : this(Enumerable.Range(0, LifeGptShape.Blocks / 2).Select(_ => new LayerCache(batch, dtype, device)).ToArray()) { }

    private KvCache(LayerCache[] layers) => _layers = layers;

    public LayerCache this[int attentionBlock] => _layers[attentionBlock];

    public int Count => _layers.Length;

    /// <summary>A new cache holding only the given sequences (rows of the batch), in that order.</summary>
    public KvCache Select(Tensor rows) => new(_layers.Select(l => l.Select(rows)).ToArray());

    public IEnumerator<LayerCache> GetEnumerator() => ((IEnumerable<LayerCache>)_layers).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public void Dispose()
    {
        foreach (var l in _layers) l.Dispose();
    }
}
