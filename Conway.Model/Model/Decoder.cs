using TorchSharp;
using TorchSharp.Modules;
using Conway.Kernels;
using static TorchSharp.torch;

namespace Conway.Model;

/// <summary>
/// 24 pre-norm residual blocks, rotary positions, a final LayerNorm. <see cref="forward"/> is training's; decoding runs
/// the same blocks as 12 attention + feed-forward pairs over a key/value cache: <see cref="Pass"/> over many positions,
/// <see cref="Step"/> over one.
/// </summary>
public sealed class Decoder : nn.Module
{
    private const int Pairs = LifeGptShape.Blocks / 2;                     // attention (even layer) + feed-forward (odd)

    public readonly ModuleList<Layer> layers;
    public readonly RotaryEmbedding rotary_pos_emb;
    public readonly LayerNorm final_norm;

    private readonly DerivedTensors _derived = new();
    private DecodingTables? _decoding;

    private readonly Autocast _autocast;

    internal Decoder(Autocast autocast) : base(nameof(Decoder))
    {
        _autocast = autocast;
        layers = nn.ModuleList(Enumerable.Range(0, LifeGptShape.Blocks)
            .Select(i => new Layer(i % 2 == 0 ? new Attention(autocast) : new FeedForward(autocast))).ToArray());
        rotary_pos_emb = new RotaryEmbedding();
        final_norm = Layer.NoBiasLayerNorm();
        RegisterComponents();
    }

    public Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var rotary = Attention.Rotary.For(rotary_pos_emb, (int)x.shape[1], _autocast.KernelsFor(x.device));
        foreach (var layer in layers)
        {
            var normed = layer.Norm.forward(x);                       // x = x + block(LayerNorm(x))
            var y = layer.Block switch
            {
                Attention a => a.forward(normed, rotary),
                FeedForward f => f.forward(normed),
                _ => throw new InvalidOperationException(),
            };
            x = x.add(y, Scalars.One);                                   // add(y) would make its alpha 1 unheld: see Scalars
        }
        return final_norm.forward(x).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Decoding's pass of the blocks over x [B*L, 256] (updated in place) at positions start..start+L-1; returns the
    /// final norm [B, L - logitsFrom, 256] of positions logitsFrom.. in the caller's dispose scope.
    /// </summary>
    internal Tensor Pass(Tensor x, long b, long l, int start, IReadOnlyList<IAttentionCache>? cache, int logitsFrom, CancellationToken cancellation)
    {
        var d = Decoding;
        using var residual = new ResidualStream(x, d.Kernels);
        for (int i = 0; i < Pairs; i++)
        {
            // one scope per layer, x updated in place: a layer's intermediates are freed before the next layer runs
            // (one scope for the whole pass held all 12 layers' at once: 124 GB at 256 boards, out of memory at 512)
            cancellation.ThrowIfCancellationRequested();
            using var layerScope = NewDisposeScope();
            Layer attentionLayer = layers[2 * i], feedForwardLayer = layers[2 * i + 1];
            var attention = (Attention)attentionLayer.Block;
            var o = attention.AttendPass(attentionLayer.Normalize(residual), b, l, d.PassCos, d.PassSin, cache?[i], start, d.Kernels);
            if (i == Pairs - 1 && logitsFrom > 0)
            {
                // the last block feeds only the logits: its output projection and feed-forward need only their positions
                // (in a speculative pass, the 1,024 cells of 2,068 positions: ~2.5% of the pass)
                o = o.narrow(2, logitsFrom, l - logitsFrom);
                residual.Narrow(b, l, logitsFrom, l - logitsFrom);
                (l, logitsFrom) = (l - logitsFrom, 0);
            }
            residual.Add(attention.PassOutput(o, b, l));
            ((FeedForward)feedForwardLayer.Block).AddTo(residual, feedForwardLayer.Normalize(residual));
        }
        return residual.Normalize(d.FinalNorm).view(b, l, LifeGptShape.Dim).narrow(1, logitsFrom, l - logitsFrom);
    }

    /// <summary>Decoding's step of the blocks over x [B, 256], one token per sequence at <paramref name="position"/>; returns the final norm [B, 256].</summary>
    internal Tensor Step(Tensor x, long b, int position, IReadOnlyList<IAttentionCache> cache)
    {
        var d = Decoding;
        var step = TablesAt(position, d);
        using var residual = new ResidualStream(x, d.Kernels);
        for (int i = 0; i < Pairs; i++)
        {
            Layer attentionLayer = layers[2 * i], feedForwardLayer = layers[2 * i + 1];
            ((Attention)attentionLayer.Block).Step(residual, attentionLayer.Normalize(residual), b, step, cache[i], d.HeadBlocks, d.Kernels);
            ((FeedForward)feedForwardLayer.Block).AddTo(residual, feedForwardLayer.Normalize(residual));
        }
        return residual.Normalize(d.FinalNorm);
    }

    /// <summary>
    /// Greedy plain decoding's steps as one captured graph of the fused kernels' own (<see cref="GreedySteps"/>), with
    /// the embedding and the logits rows of '0' and '1' given, the first step's input at <paramref name="firstPosition"/>; null unless the fused kernels run and the batch is at most
    /// <see cref="GreedySteps.MaxBatch"/>.
    /// </summary>
    internal GreedySteps? CaptureGreedySteps(Tensor embedding, Tensor cellLogits, long deadToken, Tensor cells, IReadOnlyList<IAttentionCache> cache, int firstPosition)
    {
        var d = Decoding;
        if (d.Kernels is not { } kernels || cells.shape[0] > GreedySteps.MaxBatch) return null;
        var pairs = Enumerable.Range(0, Pairs).Select(i =>
        {
            Layer attention = layers[2 * i], feedForward = layers[2 * i + 1];
            var (qkv, output) = ((Attention)attention.Block).StepWeights;
            var (w1, b1, w2, b2) = ((FeedForward)feedForward.Block).StepWeights;
            return new GreedySteps.Pair(attention.NormWeight, qkv, output, feedForward.NormWeight, w1, b1, w2, b2);
        }).ToArray();
        var weights = new GreedySteps.Weights(embedding, pairs, d.FinalNorm, LifeGptShape.NormEps, cellLogits, deadToken, d.PassCos, d.PassSin);
        return kernels.CaptureGreedySteps(weights, cache.Select(c => c.PositionMajor).ToArray(), cells, firstPosition);
    }

    /// <summary>
    /// Derives the decoding layouts of every layer, and the tables all attention blocks share: the rotary cos/sin in the
    /// weights' dtype [2071, 1, 32] for passes, each position's step rotations (<see cref="Attention.StepRotations"/>),
    /// the step mask, and for block-diagonal steps the head blocks.
    /// </summary>
    internal void PrepareForDecoding(ScalarType dtype, Device device, bool blockDiagonalSteps, FusedKernels? kernels)
    {
        _derived.Clear();
        var headBlocks = blockDiagonalSteps ? _derived.Own(Attention.HeadBlocks(dtype, device)) : null;
        foreach (var layer in layers) layer.PrepareForDecoding(headBlocks);
        var (cos, sin) = rotary_pos_emb.Tables(0, LifeGptShape.Context);                          // float32 [2071, 32]
        _decoding = new DecodingTables(
            FinalNorm: _derived.Own(final_norm.weight!),
            PassCos: _derived.Own(cos.to(dtype).unsqueeze(1)),
            PassSin: _derived.Own(sin.to(dtype).unsqueeze(1)),
            StepRotations: _derived.Own(Attention.StepRotations(rotary_pos_emb, dtype)),
            StepMask: _derived.Own(Attention.StepMask(dtype, device)),
            HeadBlocks: headBlocks,
            Kernels: kernels);
    }

    private DecodingTables Decoding => _decoding ?? throw new InvalidOperationException("LifeGpt.PrepareForDecoding derives the decoding layouts first");

    protected override void Dispose(bool disposing)
    {
        _derived.Dispose();
        base.Dispose(disposing);
    }

    /// <summary>Derived, not state: see <see cref="PrepareForDecoding"/>.</summary>
    private sealed record DecodingTables(Tensor FinalNorm, Tensor PassCos, Tensor PassSin, Tensor StepRotations, Tensor StepMask, Tensor? HeadBlocks,
        FusedKernels? Kernels);

    /// <summary>
    /// What a step at <paramref name="Position"/> reads of the shared tables. libtorch's kernels: its attended length
    /// (<see cref="Attention.PaddedLength"/>), its mask [1, 1, attended] (0 up to the position, -inf after) and rotation
    /// matrices [3, 64, 64]; the fused kernels: the rotary tables [2071, 1, 32] (they index the position themselves).
    /// </summary>
    internal sealed record StepTables(int Position, int Attended, Tensor? Mask, Tensor? Rotation, Tensor Cos, Tensor Sin);

    private static StepTables TablesAt(int position, DecodingTables d)
    {
        int attended = Attention.PaddedLength(position + 1);
        return d.Kernels is null
            ? new(position, attended, d.StepMask[position].narrow(0, 0, attended).view(1, 1, attended), d.StepRotations[position], d.PassCos, d.PassSin)
            : new(position, attended, null, null, d.PassCos, d.PassSin);
    }
}
