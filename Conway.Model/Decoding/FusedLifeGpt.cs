using Conway.Codec;
using Conway.Model;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Conway.Decoding;

/// <summary>
/// The LifeGPT network of <see cref="LifeGpt"/> with its weights re-laid for decoding. The arithmetic is the
/// module's; what changes is how few TorchSharp calls and how few bytes it takes. A decode step is host-bound at
/// small batches (each call costs ~10 us of P/Invoke and dispatch) and bound by reading the KV cache at large ones; a
/// verification pass is bound by the memory traffic of its elementwise work. Measured kernel by kernel with
/// <c>gpu/probe.py</c> (docs/PERFORMANCE.md, "How the decoding path was tuned"):
/// <list type="bullet">
/// <item>q, k, v are one projection, which also yields swap(q) and swap(k) on the rotary channels (the rotate-half
///   permutation with its sign, folded into the weights): rotary is then two in-place kernels on just the 32 rotated
///   channels (q*cos + swap(q)*sin), where slicing, negating and concatenating took ~40% of a pass;</item>
/// <item>attention in a pass reads q, k and v as views of that projection: no copies, and no cache at all in the
///   first speculative pass;</item>
/// <item>in a 1-token step, rotary is one matmul with a per-position 64x64 matrix (the 1/sqrt(64) scale folded into
///   q's), and on CUDA attention is two GEMMs over the cache (<see cref="KvCache"/>) with all 8 heads at once: the
///   query is block-diagonal [8, 512], each row reads the whole [t, 512] key matrix once and keeps its own head's
///   block (on the CPU, per-head products: there arithmetic, not reading, is the bound). The attended length is padded to a multiple of 8, the padding masked to weight 0: at odd lengths cuBLAS
///   falls back to unaligned kernels that took 94% of a step. This streams the cache at ~84% of the copy bandwidth
///   against ~70% for per-head products (512 boards on an H200);</item>
/// <item>the step's keys and values go into the cache with one copy; residual adds ride on addmm, and the step's output
///   projection takes all 8 heads' rows at once (zeros outside each head's block) instead of extracting a diagonal;
///   at one board a step is host-bound (~25 calls a block), so no call is spent that a view or a weight can save;</item>
/// <item>greedy decoding without probabilities computes only the logits of '0' and '1'.</item>
/// </list>
/// Checked against the module by the conformance tests.
/// </summary>
public sealed class FusedLifeGpt : IDisposable
{
    private const int Inner = LifeGptShape.Heads * LifeGptShape.HeadDim;                       // 512
    private const int SwapWidth = 2 * LifeGptShape.Heads * LifeGptShape.RotaryDim;             // swap(q), swap(k): 512
    private static readonly Scalar AttentionScale = (1.0 / Math.Sqrt(LifeGptShape.HeadDim)).ToScalar();   // held: see Scalars

    private readonly Tensor _embedding, _finalNorm, _logits, _cellLogits, _cos, _sin, _stepRotation, _headBlocks, _stepMask;
    private readonly AttentionWeights[] _attention;
    private readonly FeedForwardWeights[] _feedForward;
    private readonly List<Tensor> _owned = [];

    /// <param name="model">The network, on its device and in its precision.</param>
    /// <param name="blockDiagonalSteps">
    /// A step's attention as block-diagonal GEMMs or per head. Default: block-diagonal on CUDA, where reading the cache
    /// is the bound and they stream it faster; per head on the CPU, where arithmetic is the bound and the block-diagonal
    /// form's 8x products made one board's plain decoding 30 s instead of 17 s on this repository's 2-core machine.
    /// </param>
    public FusedLifeGpt(LifeGpt model, bool? blockDiagonalSteps = null)
    {
        using var _ = no_grad();
        var net = model.net;
        _embedding = Own(net.token_emb.emb.weight!);
        Dtype = _embedding.dtype;
        Device = _embedding.device;
        BlockDiagonal = blockDiagonalSteps ?? Device.type == TorchSharp.DeviceType.CUDA;
        _finalNorm = Own(net.attn_layers.final_norm.weight!);
        _logits = Own(net.to_logits.weight!);
        _cellLogits = Own(_logits.narrow(0, LifeGptCodec.Dead, 2));             // rows '0', '1'
        _headBlocks = Own(eye(LifeGptShape.Heads, dtype: Dtype, device: Device).unsqueeze(2)                 // [8, 8, 64]: 1 where
            .expand(-1, -1, LifeGptShape.HeadDim));                                                          // row = head
        _attention = net.attn_layers.layers.Where(l => l.Block is Attention)
            .Select(l => (l.Norm, Attention: (Attention)l.Block))
            .Select(a => AttentionWeightsOf(a.Norm.weight!, a.Attention))
            .ToArray();
        _feedForward = net.attn_layers.layers.Where(l => l.Block is FeedForward)
            .Select(l => (l.Norm, Ff: (FeedForward)l.Block))
            .Select(f => new FeedForwardWeights(Own(f.Norm.weight!), Own(f.Ff.In.weight!), Own(f.Ff.In.bias!),
                Own(f.Ff.Out.weight!), Own(f.Ff.Out.bias!)))
            .ToArray();
        var (cos, sin) = net.attn_layers.rotary_pos_emb.Tables(0, LifeGptShape.Context);   // float32 [2071, 32]
        _cos = Own(cos.to(Dtype).unsqueeze(1));                                               // [2071, 1, 32]
        _sin = Own(sin.to(Dtype).unsqueeze(1));
        _stepRotation = Own(StepRotations(cos, sin).to(Dtype));
        // row p: 0 for keys 0..p, -inf after (a step's padding); 2072 x 2072 in 16 bits is 8.6 MB
        _stepMask = Own(full(KvCache.Length, KvCache.Length, Scalars.NegativeInfinity, dtype: Dtype, device: Device).triu_(1));
    }

    public bool BlockDiagonal { get; }
    public ScalarType Dtype { get; }
    public Device Device { get; }

    /// <summary>
    /// Logits for tokens [B, L] at positions start..start+L-1, writing their keys and values into the cache (if any;
    /// from start 0 none is needed). Only positions logitsFrom.. get logits; <paramref name="cellsOnly"/> gives just
    /// the '0' and '1' columns. <paramref name="cancellation"/> is checked before each of the 12 layers (a host-side
    /// check, no synchronisation): a pass over thousands of positions takes seconds on a CPU, and abandoned or timed-out
    /// work stops within a twelfth of it.
    /// </summary>
    public Tensor Forward(Tensor tokens, int start, KvCache? cache, int logitsFrom, bool cellsOnly, CancellationToken cancellation = default)
    {
        if (start > 0 && cache is null) throw new ArgumentException("a pass after position 0 needs the cache of the positions before it", nameof(cache));
        using var scope = NewDisposeScope();
        long b = tokens.shape[0], l = tokens.shape[1];
        var x = _embedding.index_select(0, tokens.reshape(-1));                                    // [B*L, 256]
        var cos = _cos.narrow(0, start, l);
        var sin = _sin.narrow(0, start, l);
        for (int i = 0; i < _attention.Length; i++)
        {
            // one scope per layer, x updated in place: a layer's intermediates are freed before the next layer runs
            // (one scope for the whole pass held all 12 layers' at once: 124 GB at 256 boards, out of memory at 512)
            cancellation.ThrowIfCancellationRequested();
            using var layerScope = NewDisposeScope();
            var a = _attention[i];
            var projected = F.linear(Norm(x, a.Norm), a.Projection);                             // [B*L, 2048]
            var heads = projected.view(b, l, -1, LifeGptShape.HeadDim);                          // q 0-7, k 8-15, v 16-23
            var swapped = projected.narrow(1, 3 * Inner, SwapWidth).view(b, l, 2 * LifeGptShape.Heads, LifeGptShape.RotaryDim);
            heads.narrow(2, 0, 2 * LifeGptShape.Heads).narrow(3, 0, LifeGptShape.RotaryDim)    // rotary, in place:
                .mul_(cos).addcmul_(swapped, sin, Scalars.One);                                            // x*cos + swap(x)*sin
            var q = heads.narrow(2, 0, LifeGptShape.Heads).transpose(1, 2);                      // [B, H, L, 64] views
            var k = heads.narrow(2, LifeGptShape.Heads, LifeGptShape.Heads);                     // [B, L, H, 64] views
            var v = heads.narrow(2, 2 * LifeGptShape.Heads, LifeGptShape.Heads);
            var layer = cache?.Layer(i);
            layer?.Write(start, k, v);
            Tensor o;
            if (start == 0)
                o = F.scaled_dot_product_attention(q, k.transpose(1, 2), v.transpose(1, 2), is_casual: true);
            else
            {
                var (keys, values) = layer!.Upto(start + (int)l);
                o = CachedAttention(q, keys, values, start);
            }
            if (i == _attention.Length - 1 && logitsFrom > 0)
            {
                // the last block feeds only the logits: its output projection and feed-forward need only their positions
                // (in a speculative pass, the 1,024 cells of 2,068 positions: ~2.5% of the pass)
                o = o.narrow(2, logitsFrom, l - logitsFrom);
                x = x.view(b, l, LifeGptShape.Dim).narrow(1, logitsFrom, l - logitsFrom).reshape(-1, LifeGptShape.Dim).MoveToOuterDisposeScope();
                (l, logitsFrom) = (l - logitsFrom, 0);
            }
            x.add_(o.transpose(1, 2).reshape(b * l, Inner).matmul(a.OutT), Scalars.One);
            FeedForward(x, _feedForward[i]);
        }
        var h = Norm(x.view(b, l, LifeGptShape.Dim).narrow(1, logitsFrom, l - logitsFrom), _finalNorm);
        return F.linear(h, cellsOnly ? _cellLogits : _logits).MoveToOuterDisposeScope();
    }

    /// <summary>One token per sequence, tokens [B], at <paramref name="position"/>: logits [B, 1, 2 or 256].</summary>
    public Tensor Step(Tensor tokens, int position, KvCache cache, bool cellsOnly)
    {
        using var scope = NewDisposeScope();
        long b = tokens.shape[0];
        int attended = KvCache.Padded(position + 1);
        var mask = _stepMask[position].narrow(0, 0, attended).view(1, 1, attended);             // 0 up to position, -inf after
        var x = _embedding.index_select(0, tokens.reshape(-1));                                    // [B, 256]
        var rotation = _stepRotation[position];                                                    // [3, 64, 64]
        for (int i = 0; i < _attention.Length; i++)
        {
            var a = _attention[i];
            var qkv = F.linear(Norm(x, a.Norm), a.Qkv).view(b, 3, LifeGptShape.Heads, LifeGptShape.HeadDim);
            var rotated = qkv.matmul(rotation);                                                   // q/8 and k rotated, v as is
            var layer = cache.Layer(i);
            layer.WriteStep(position, rotated.narrow(1, 1, 2));
            var (keysT, values) = layer.Matrices(attended, perHead: !BlockDiagonal);
            if (BlockDiagonal)
            {
                var queries = rotated.narrow(1, 0, 1).mul(_headBlocks).view(b, LifeGptShape.Heads, Inner);   // [B, 8, 512]
                var weights = queries.bmm(keysT).add_(mask, Scalars.One).softmax(-1);             // [B, 8, t] over [B, 512, t]
                x = addmm(x, weights.bmm(values).view(b, -1), a.HeadOutT, 1, 1);                  // row h: head h in block h
            }
            else
            {
                var queries = rotated.select(1, 0).reshape(b * LifeGptShape.Heads, 1, LifeGptShape.HeadDim);   // [B*H, 1, 64]
                var weights = queries.bmm(keysT).add_(mask, Scalars.One).softmax(-1);             // [B*H, 1, t]
                x = addmm(x, weights.bmm(values).view(b, Inner), a.OutT, 1, 1);
            }
            x = FeedForward(x, _feedForward[i]);
        }
        return F.linear(Norm(x, _finalNorm), cellsOnly ? _cellLogits : _logits).unsqueeze(1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Queries [B, H, L, 64] at positions start..start+L-1 over cached keys 0..start+L-1 (a speculative pass after a
    /// rejection). Written as matmul-softmax-matmul rather than SDPA: for short queries over a growing cache libtorch
    /// picks cuDNN attention on CUDA, which builds a new plan (~50 ms) for every new length (spec: "Reference
    /// inference speed"); this path has no such trap.
    /// </summary>
    private static Tensor CachedAttention(Tensor q, Tensor keys, Tensor values, int start)
    {
        long l = q.shape[2], t = keys.shape[2];
        var scores = matmul(q, keys.transpose(2, 3)).mul_(AttentionScale);
        if (l > 1)
        {
            // query i (position start+i) may see keys 0..start+i
            var future = ones(l, t, ScalarType.Bool, q.device).triu_(start + 1);
            scores = scores.masked_fill(future, Scalars.NegativeInfinity);
        }
        return matmul(scores.softmax(-1), values);
    }

    private static Tensor FeedForward(Tensor x, FeedForwardWeights f)
    {
        var hidden = F.linear(Norm(x, f.Norm), f.In, f.InBias).gelu_();                          // exact (erf) GELU
        return x.add_(F.linear(hidden, f.Out, f.OutBias), Scalars.One);
    }

    private static Tensor Norm(Tensor x, Tensor weight) =>
        F.layer_norm(x, [LifeGptShape.Dim], weight, null, LifeGptShape.NormEps);

    private AttentionWeights AttentionWeightsOf(Tensor norm, Attention attention)
    {
        Tensor wq = attention.to_q.weight!, wk = attention.to_k.weight!;
        var projection = Own(cat([wq, wk, attention.to_v.weight!, Swapped(wq), Swapped(wk)], 0));   // [2048, 256]
        var outT = Own(attention.to_out.weight!.t());                                                 // [512, 256]
        // the step's output projection over all 8 rows of [B, 8, 512]: row h's block h meets the matching rows of
        // to_out, every other block meets zeros
        var headOutT = Own(outT.repeat(LifeGptShape.Heads, 1) * _headBlocks.reshape(-1, 1));            // [4096, 256]
        return new AttentionWeights(Own(norm), projection, Own(projection.narrow(0, 0, 3 * Inner)), outT, headOutT);
    }

    /// <summary>
    /// Weight rows giving each head's rotate-half of its first 32 channels, (-x2, x1) with x1 = channels 0..15 and
    /// x2 = 16..31: [8 heads x 32, 256]. A signed permutation of rows, so exact in any precision.
    /// </summary>
    private static Tensor Swapped(Tensor weight)
    {
        const int half = LifeGptShape.RotaryDim / 2;
        var perHead = weight.view(LifeGptShape.Heads, LifeGptShape.HeadDim, LifeGptShape.Dim);
        return cat([-perHead.narrow(1, half, half), perHead.narrow(1, 0, half)], 1).reshape(-1, LifeGptShape.Dim);
    }

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
        return stack([r.mul(AttentionScale), r, identity], 1);
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

    /// <summary>Qkv is the first 1536 rows of Projection (a view): the step rotates by matrix and needs no swaps.</summary>
    private sealed record AttentionWeights(Tensor Norm, Tensor Projection, Tensor Qkv, Tensor OutT, Tensor HeadOutT);

    private sealed record FeedForwardWeights(Tensor Norm, Tensor In, Tensor InBias, Tensor Out, Tensor OutBias);
}
