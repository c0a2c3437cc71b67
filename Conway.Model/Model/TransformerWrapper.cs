using Conway.Codec;
using Conway.Kernels;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Conway.Model;

/// <summary>Token embedding, the decoder, the logits. Decoding's entry points are <see cref="LifeGpt"/>'s.</summary>
public sealed class TransformerWrapper : nn.Module
{
    public readonly TokenEmbedding token_emb;
    public readonly Decoder attn_layers;
    public readonly Linear to_logits;

    private readonly Autocast _autocast;
    private readonly DerivedTensors _derived = new();
    private DecodingLayout? _decoding;

    internal TransformerWrapper(Autocast autocast) : base(nameof(TransformerWrapper))
    {
        _autocast = autocast;
        token_emb = new TokenEmbedding();
        attn_layers = new Decoder(autocast);
        to_logits = nn.Linear(LifeGptShape.Dim, LifeGptShape.Vocab, hasBias: false);
        RegisterComponents();
    }

    public Tensor forward(Tensor tokens)
    {
        using var x = token_emb.emb.forward(tokens);      // no scaling, no absolute positions
        using var h = attn_layers.forward(x);
        return _autocast.Linear(to_logits, h);
    }

    /// <summary>Decoding: see <see cref="LifeGpt.Pass"/>.</summary>
    internal Tensor Pass(Tensor tokens, int start, IReadOnlyList<IAttentionCache>? cache, int logitsFrom, bool cellsOnly, CancellationToken cancellation)
    {
        using var scope = NewDisposeScope();
        long b = tokens.shape[0], l = tokens.shape[1];
        var d = Decoding;
        var x = d.Embedding.index_select(0, tokens.reshape(-1));                                  // [B*L, 256]
        var h = attn_layers.Pass(x, b, l, start, cache, logitsFrom, cancellation);
        return F.linear(h, cellsOnly ? d.CellLogits : d.Logits).MoveToOuterDisposeScope();
    }

    /// <summary>Decoding: see <see cref="LifeGpt.Step"/>.</summary>
    internal Tensor Step(Tensor tokens, int position, IReadOnlyList<IAttentionCache> cache, bool cellsOnly)
    {
        using var scope = NewDisposeScope();
        long b = tokens.shape[0];
        var d = Decoding;
        var x = d.Embedding.index_select(0, tokens.reshape(-1));                                  // [B, 256]
        var h = attn_layers.Step(x, b, position, cache);
        return F.linear(h, cellsOnly ? d.CellLogits : d.Logits).unsqueeze(1).MoveToOuterDisposeScope();
    }

    /// <summary>Decoding: see <see cref="LifeGpt.CaptureGreedySteps"/>.</summary>
    internal GreedySteps? CaptureGreedySteps(Tensor cells, IReadOnlyList<IAttentionCache> cache) =>
        attn_layers.CaptureGreedySteps(Decoding.Embedding, Decoding.CellLogits, LifeGptCodec.Dead, cells, cache, LifeGptCodec.PromptLength - 1);

    /// <summary>
    /// Derives the decoding layouts: the embedding and logits weights detached (views), the logits rows of '0' and '1'
    /// alone (a view: greedy decoding without probabilities computes only those two), and the decoder's.
    /// </summary>
    internal void PrepareForDecoding(bool blockDiagonalSteps, FusedKernels? kernels)
    {
        _derived.Clear();
        var embedding = _derived.Own(token_emb.emb.weight!);
        var logits = _derived.Own(to_logits.weight!);
        _decoding = new DecodingLayout(embedding, logits, _derived.Own(logits.narrow(0, LifeGptCodec.Dead, 2)));   // rows '0', '1'
        attn_layers.PrepareForDecoding(embedding.dtype, embedding.device, blockDiagonalSteps, kernels);
    }

    private DecodingLayout Decoding => _decoding ?? throw new InvalidOperationException("LifeGpt.PrepareForDecoding derives the decoding layouts first");

    protected override void Dispose(bool disposing)
    {
        _derived.Dispose();
        base.Dispose(disposing);
    }

    /// <summary>Derived, not state: see <see cref="PrepareForDecoding"/>.</summary>
    private sealed record DecodingLayout(Tensor Embedding, Tensor Logits, Tensor CellLogits);
}

public sealed class TokenEmbedding : nn.Module
{
    public readonly Embedding emb;

    public TokenEmbedding() : base(nameof(TokenEmbedding))
    {
        emb = nn.Embedding(LifeGptShape.Vocab, LifeGptShape.Dim);
        RegisterComponents();
    }
}
