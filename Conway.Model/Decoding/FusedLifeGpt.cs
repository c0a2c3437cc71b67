using Conway.Codec;
using Conway.Model;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Conway.Decoding;

/// <summary>
/// The LifeGPT network of <see cref="LifeGpt"/> with its weights re-laid for decoding. The arithmetic is the
/// module's; what changes is how few TorchSharp calls it takes, because a decode step is host-bound (each call
/// costs ~10 us of P/Invoke and dispatch whatever the batch):
/// <list type="bullet">
/// <item>q, k, v are one [1536, 256] projection (three launches become one);</item>
/// <item>in a 1-token step, rotary is one matmul with a per-position 64x64 matrix (rotate-halves as a linear map,
///   with the 1/sqrt(64) attention scale folded into q's and the identity for v), instead of ~10 slicing ops;</item>
/// <item>the step's keys and values go into the cache with one copy; residual adds ride on addmm;</item>
/// <item>greedy decoding without probabilities computes only the logits of '0' and '1'.</item>
/// </list>
/// About 200 kernels a step; one board's step then takes 2.2 ms on an H100 against the spec's ~4.3 ms for a plain
/// TorchSharp step (docs/PERFORMANCE.md). Checked against the module by the conformance tests.
/// </summary>
public sealed class FusedLifeGpt : IDisposable
{
    private readonly Tensor _embedding, _finalNorm, _logits, _cellLogits, _cos, _sin, _stepRotation;
    private readonly AttentionWeights[] _attention;
    private readonly FeedForwardWeights[] _feedForward;
    private readonly List<Tensor> _owned = [];

    public FusedLifeGpt(LifeGpt model)
    {
        using var _ = no_grad();
        var net = model.net;
        _embedding = Own(net.token_emb.emb.weight!);
        _finalNorm = Own(net.attn_layers.final_norm.weight!);
        _logits = Own(net.to_logits.weight!);
        _cellLogits = Own(_logits.narrow(0, LifeGptCodec.Dead, 2));             // rows '0', '1'
        _attention = net.attn_layers.layers.Where(l => l.Block is Attention)
            .Select(l => (l.Norm, Attention: (Attention)l.Block))
            .Select(a => new AttentionWeights(Own(a.Norm.weight!),
                Own(cat([a.Attention.to_q.weight!, a.Attention.to_k.weight!, a.Attention.to_v.weight!], 0)), Own(a.Attention.to_out.weight!.t())))
            .ToArray();
        _feedForward = net.attn_layers.layers.Where(l => l.Block is FeedForward)
            .Select(l => (l.Norm, Ff: (FeedForward)l.Block))
            .Select(f => new FeedForwardWeights(Own(f.Norm.weight!), Own(f.Ff.In.weight!), Own(f.Ff.In.bias!),
                Own(f.Ff.Out.weight!), Own(f.Ff.Out.bias!)))
            .ToArray();
        var (cos, sin) = net.attn_layers.rotary_pos_emb.Tables(0, LifeGptShape.Context);   // float32
        Dtype = _embedding.dtype;
        Device = _embedding.device;
        _cos = Own(cos.to(Dtype));
        _sin = Own(sin.to(Dtype));
        _stepRotation = Own(StepRotations(cos, sin).to(Dtype));
    }

    public ScalarType Dtype { get; }
    public Device Device { get; }

    /// <summary>
    /// Logits for tokens [B, L] at positions start..start+L-1, writing the cache there. Only positions
    /// logitsFrom.. get logits; <paramref name="cellsOnly"/> gives just the '0' and '1' columns.
    /// </summary>
    public Tensor Forward(Tensor tokens, int start, KvCache cache, int logitsFrom, bool cellsOnly)
    {
        using var scope = NewDisposeScope();
        long b = tokens.shape[0], l = tokens.shape[1];
        var x = _embedding.index_select(0, tokens.reshape(-1)).view(b, l, LifeGptShape.Dim);
        var cos = _cos.narrow(0, start, l);
        var sin = _sin.narrow(0, start, l);
        for (int i = 0; i < _attention.Length; i++)
        {
            // one scope per layer, x updated in place: a layer's intermediates are freed before the next layer runs
            // (one scope for the whole pass held all 12 layers' at once: 124 GB at 256 boards, out of memory at 512)
            using var layerScope = NewDisposeScope();
            var a = _attention[i];
            var qkv = F.linear(Norm(x, a.Norm), a.Qkv).view(b, l, 3, LifeGptShape.Heads, LifeGptShape.HeadDim).permute(2, 0, 3, 1, 4);
            var q = RotaryEmbedding.Apply(qkv[0], cos, sin);
            var k = RotaryEmbedding.Apply(qkv[1], cos, sin);
            var layer = cache.Layer(i);
            layer.Write(start, k, qkv[2]);
            var (keys, values) = layer.Upto(start + (int)l);
            var o = start == 0 ? F.scaled_dot_product_attention(q, keys, values, is_casual: true)
                : CachedAttention(q, keys, values, start);
            x.add_(o.transpose(1, 2).reshape(b, l, -1).matmul(a.OutT));
            FeedForward(x, _feedForward[i]);
        }
        var h = Norm(x.narrow(1, logitsFrom, l - logitsFrom), _finalNorm);
        return F.linear(h, cellsOnly ? _cellLogits : _logits).MoveToOuterDisposeScope();
    }

    /// <summary>One token per sequence, tokens [B], at <paramref name="position"/>: logits [B, 1, 2 or 256].</summary>
    public Tensor Step(Tensor tokens, int position, KvCache cache, bool cellsOnly)
    {
        using var scope = NewDisposeScope();
        long b = tokens.shape[0];
        var x = _embedding.index_select(0, tokens.reshape(-1));                                    // [B, 256]
        var rotation = _stepRotation[position];                                                    // [3, 64, 64]
        for (int i = 0; i < _attention.Length; i++)
        {
            var a = _attention[i];
            var qkv = F.linear(Norm(x, a.Norm), a.Qkv).view(b, 3, LifeGptShape.Heads, LifeGptShape.HeadDim);
            var rotated = qkv.matmul(rotation);                                                   // q/8 and k rotated, v as is
            var layer = cache.Layer(i);
            layer.WriteStep(position, rotated.narrow(1, 1, 2));
            var (keys, values) = layer.Upto(position + 1);
            var scores = rotated.select(1, 0).unsqueeze(2).matmul(keys.transpose(2, 3));           // [B, H, 1, t]
            var o = scores.softmax(-1).matmul(values).reshape(b, -1);                              // [B, 512]
            x = addmm(x, o, a.OutT, 1, 1);
            x = FeedForward(x, _feedForward[i]);
        }
        return F.linear(Norm(x, _finalNorm), cellsOnly ? _cellLogits : _logits).unsqueeze(1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Queries at positions start..start+L-1 over cached keys 0..start+L-1. Written as matmul-softmax-matmul rather
    /// than SDPA: for a 1-token query over a growing cache libtorch picks cuDNN attention on CUDA and pays ~50 ms a
    /// step (spec: "Reference inference speed"); this path has no such trap.
    /// </summary>
    private static Tensor CachedAttention(Tensor q, Tensor keys, Tensor values, int start)
    {
        long l = q.shape[2], t = keys.shape[2];
        var scores = matmul(q, keys.transpose(2, 3)).mul_(1.0 / Math.Sqrt(LifeGptShape.HeadDim));
        if (l > 1)
        {
            // query i (position start+i) may see keys 0..start+i
            var future = ones(l, t, ScalarType.Bool, q.device).triu_(start + 1);
            scores = scores.masked_fill(future, float.NegativeInfinity);
        }
        return matmul(scores.softmax(-1), values);
    }

    private static Tensor FeedForward(Tensor x, FeedForwardWeights f)
    {
        var hidden = F.linear(Norm(x, f.Norm), f.In, f.InBias).gelu_();                          // exact (erf) GELU
        return x.add_(F.linear(hidden, f.Out, f.OutBias));
    }

    private static Tensor Norm(Tensor x, Tensor weight) =>
        F.layer_norm(x, [LifeGptShape.Dim], weight, null, LifeGptShape.NormEps);

    /// <summary>
    /// Per position p, [3, 64, 64]: rotary as a matrix acting on row vectors (x1' = x1 cos - x2 sin,
    /// x2' = x2 cos + x1 sin on channels 0..31, channels 32..63 unchanged), scaled by 1/8 for q, plain for k,
    /// the identity for v. 2071 x 3 x 64 x 64 in 16 bits is 51 MB.
    /// </summary>
    private static Tensor StepRotations(Tensor cos, Tensor sin)
    {
        const int half = LifeGptShape.RotaryDim / 2;
        var r = eye(LifeGptShape.HeadDim, LifeGptShape.HeadDim, ScalarType.Float32, cos.device).repeat(LifeGptShape.Context, 1, 1);
        for (int j = 0; j < half; j++)
        {
            var c = cos.select(1, j);
            var s = sin.select(1, j);
            r.select(1, j).select(1, j).copy_(c);               // x1 -> x1'
            r.select(1, j + half).select(1, j).copy_(-s);       // x2 -> x1'
            r.select(1, j).select(1, j + half).copy_(s);        // x1 -> x2'
            r.select(1, j + half).select(1, j + half).copy_(c); // x2 -> x2'
        }
        var identity = eye(LifeGptShape.HeadDim, LifeGptShape.HeadDim, ScalarType.Float32, cos.device).expand(LifeGptShape.Context, -1, -1);
        return stack([r / Math.Sqrt(LifeGptShape.HeadDim), r, identity], 1);
    }

    private Tensor Own(Tensor t)
    {
        var owned = t.detach().contiguous().DetachFromDisposeScope();
        _owned.Add(owned);
        return owned;
    }

    public void Dispose()
    {
        foreach (var t in _owned) t.Dispose();
    }

    private sealed record AttentionWeights(Tensor Norm, Tensor Qkv, Tensor OutT);

    private sealed record FeedForwardWeights(Tensor Norm, Tensor In, Tensor InBias, Tensor Out, Tensor OutBias);
}
