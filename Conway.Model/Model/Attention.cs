using TorchSharp;
using TorchSharp.Modules;
using Conway.Kernels;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Conway.Model;

/// <summary>
/// 8 heads of 64, causal, rotary q/k, no biases. <see cref="forward"/> is training's; decoding runs the same block over
/// a key/value cache (<see cref="AttendPass"/> and <see cref="PassOutput"/> for a pass, <see cref="Step"/> for one
/// token) with its weights in layouts derived from these parameters (<see cref="PrepareForDecoding"/>).
/// </summary>
public sealed class Attention : nn.Module
{
    private const int Inner = LifeGptShape.Heads * LifeGptShape.HeadDim;                       // 512
    private const int RotateHalfWidth = 2 * LifeGptShape.Heads * LifeGptShape.RotaryDim;       // swap(q), swap(k): 512

    /// <summary>softmax(q k^T / 8): the 1/sqrt(64) of scaled dot-product attention. Held: see Scalars.</summary>
    internal static readonly Scalar Scale = (1.0 / Math.Sqrt(LifeGptShape.HeadDim)).ToScalar();

    /// <summary>
    /// The longest length a step attends to, and so the positions a cache holds: the 2071-token context rounded up to a
    /// multiple of 8 (<see cref="PaddedLength"/>).
    /// </summary>
    public const int PaddedContext = (LifeGptShape.Context + 7) / 8 * 8;

    public readonly Linear to_q, to_k, to_v, to_out;
    private readonly Autocast _autocast;
    private readonly DerivedTensors _derived = new();
    private DecodingLayout? _decoding;

    internal Attention(Autocast autocast) : base(nameof(Attention))
    {
        _autocast = autocast;
        to_q = nn.Linear(LifeGptShape.Dim, Inner, hasBias: false);
        to_k = nn.Linear(LifeGptShape.Dim, Inner, hasBias: false);
        to_v = nn.Linear(LifeGptShape.Dim, Inner, hasBias: false);
        to_out = nn.Linear(Inner, LifeGptShape.Dim, hasBias: false);
        RegisterComponents();
    }

    /// <summary>
    /// Training's rotary for a forward: tables for <see cref="RotaryEmbedding.ApplyWithRotatedHalves"/> (libtorch's
    /// kernels), or the fused kernels' (<see cref="Fused"/> set).
    /// </summary>
    internal sealed record Rotary(Tensor? Cos, Tensor? Sin, FusedRotary.Tables? Fused)
    {
        /// <summary>
        /// For positions 0..length-1: with <paramref name="kernels"/>, <see cref="RotaryEmbedding.Bfloat16Tables"/> for
        /// <see cref="FusedRotary"/>; without, <see cref="RotaryEmbedding.PassThroughTables"/>.
        /// </summary>
        public static Rotary For(RotaryEmbedding rotary, int length, FusedKernels? kernels)
        {
            if (kernels is null)
            {
                var (cos, sin) = rotary.PassThroughTables(length);
                return new Rotary(cos, sin, null);
            }
            var (cos16, sin16, negatedSin16) = rotary.Bfloat16Tables();
            return new Rotary(null, null, new FusedRotary.Tables(kernels, cos16, sin16, negatedSin16, length));
        }
    }

    /// <summary>
    /// Training's attention over x [B, L, 256]. Built for autograd's memory traffic, where slicing and concatenating
    /// channels took about a third of a training step (zero-filled gradients of every slice; measured with ncu on an
    /// H200: docs/PERFORMANCE.md, "Training steps"): q, k and v are one projection, split into views whose gradients are
    /// one concatenation, and rotary is one kernel each way (<see cref="FusedRotary"/>) or, with libtorch's kernels, two
    /// on a projection that also yields the rotated halves (<see cref="Projection"/>, as in decoding).
    /// </summary>
    internal Tensor forward(Tensor x, Rotary rotary)
    {
        long b = x.shape[0], l = x.shape[1];
        var (q, k, v) = rotary.Fused is { } fused ? FusedHeads(x, b, l, fused) : Heads(x, b, l, rotary);
        var o = F.scaled_dot_product_attention(q, k, v, is_casual: true);                       // softmax(q k^T / 8) v
        return _autocast.Linear(to_out, o.transpose(1, 2).reshape(b, l, -1));
    }

    /// <summary>q, k (rotated) and v [B, 8, L, 64] of x [B, L, 256] with libtorch's kernels.</summary>
    private (Tensor Q, Tensor K, Tensor V) Heads(Tensor x, long b, long l, Rotary rotary)
    {
        var parts = _autocast.Linear(x, Projection()).split([2 * Inner, Inner, RotateHalfWidth], -1);   // q | k, v, swap(q) | swap(k)
        var qk = RotaryEmbedding.ApplyWithRotatedHalves(parts[0].view(b, l, 2 * LifeGptShape.Heads, LifeGptShape.HeadDim),
            parts[2].view(b, l, 2 * LifeGptShape.Heads, LifeGptShape.RotaryDim), rotary.Cos!, rotary.Sin!).split(LifeGptShape.Heads, 2);   // [B, L, 8, 64]
        return (qk[0].transpose(1, 2), qk[1].transpose(1, 2), parts[1].view(b, l, LifeGptShape.Heads, LifeGptShape.HeadDim).transpose(1, 2));
    }

    /// <summary>q, k (rotated) and v [B, 8, L, 64] of x [B, L, 256] with the fused rotary.</summary>
    private (Tensor Q, Tensor K, Tensor V) FusedHeads(Tensor x, long b, long l, FusedRotary.Tables fused)
    {
        var qkv = _autocast.Linear(x, cat([to_q.weight!, to_k.weight!, to_v.weight!], 0)).view(b * l, 3 * Inner);
        // split before the transposes: the gradients' concatenation then lands in the projection's layout, not in one
        // that autograd copies again
        var heads = FusedRotary.Rotate(qkv, fused).view(b, l, 3 * LifeGptShape.Heads, LifeGptShape.HeadDim).split(LifeGptShape.Heads, 2);
        return (heads[0].transpose(1, 2), heads[1].transpose(1, 2), heads[2].transpose(1, 2));
    }

    /// <summary>
    /// q | k | v | swap(q) | swap(k) [2048, 256] from the parameters: swap(q) and swap(k) project the rotate-half of each
    /// head's 32 rotary channels (<see cref="RotaryEmbedding.RotateHalfRows"/>, a signed permutation of rows: exact).
    /// </summary>
    private Tensor Projection()
    {
        Tensor wq = to_q.weight!, wk = to_k.weight!;
        return cat([wq, wk, to_v.weight!, RotaryEmbedding.RotateHalfRows(wq), RotaryEmbedding.RotateHalfRows(wk)], 0);
    }

    /// <summary>
    /// A step's attended length: the positions so far rounded up to a multiple of 8, the padding masked to weight 0. At
    /// odd lengths cuBLAS takes unaligned kernels (measured: 94% of a step at 512 boards).
    /// </summary>
    public static int PaddedLength(int length) => (length + 7) / 8 * 8;

    /// <summary>
    /// A pass's attention for the normed inputs [B*L, 256] at positions start..start+L-1 (<paramref name="cos"/>,
    /// <paramref name="sin"/>: the rotary tables [2071, 1, 32] in the weights' dtype): q, k and v are views of one
    /// projection. With libtorch's kernels the projection also yields swap(q) and swap(k)
    /// (<see cref="RotaryEmbedding.RotateHalfRows"/>), so rotary is two in-place kernels on the 32 rotated channels; the
    /// fused kernels rotate q and k in place in one kernel, from the q | k | v projection alone. Writes k and v into the
    /// cache (if any; from start 0 none is needed) and returns the heads' outputs [B, H, L, 64], before the output
    /// projection (<see cref="PassOutput"/>).
    /// </summary>
    internal Tensor AttendPass(Tensor normed, long b, long l, Tensor cos, Tensor sin, IAttentionCache? cache, int start, FusedKernels? kernels)
    {
        Tensor projected;
        if (kernels is null)
        {
            projected = F.linear(normed, Decoding.Projection);                               // [B*L, 2048]
            var rotatedHalves = projected.narrow(1, 3 * Inner, RotateHalfWidth).view(b, l, 2 * LifeGptShape.Heads, LifeGptShape.RotaryDim);
            var rotary = projected.view(b, l, -1, LifeGptShape.HeadDim).narrow(2, 0, 2 * LifeGptShape.Heads).narrow(3, 0, LifeGptShape.RotaryDim);
            RotaryEmbedding.ApplyInPlace(rotary, rotatedHalves, cos.narrow(0, start, l), sin.narrow(0, start, l));   // q and k
        }
        else
        {
            projected = F.linear(normed, Decoding.Qkv);                                      // [B*L, 1536]
            kernels.RotaryPass(projected, cos, sin, start, (int)l);
        }
        var heads = projected.view(b, l, -1, LifeGptShape.HeadDim);                          // q 0-7, k 8-15, v 16-23
        var q = heads.narrow(2, 0, LifeGptShape.Heads).transpose(1, 2);                      // [B, H, L, 64] views
        var k = heads.narrow(2, LifeGptShape.Heads, LifeGptShape.Heads);                     // [B, L, H, 64] views
        var v = heads.narrow(2, 2 * LifeGptShape.Heads, LifeGptShape.Heads);
        cache?.Write(start, k, v);
        if (start == 0)
            return F.scaled_dot_product_attention(q, k.transpose(1, 2), v.transpose(1, 2), is_casual: true);
        var (keys, values) = cache!.Upto(start + (int)l);
        return CachedAttention(q, keys, values, start);
    }

    /// <summary>The output projection of a pass's heads o [B, H, L, 64]: [B*L, 256], for the residual stream.</summary>
    internal Tensor PassOutput(Tensor o, long b, long l) =>
        o.transpose(1, 2).reshape(b * l, Inner).matmul(Decoding.OutT);

    /// <summary>
    /// One token per sequence: adds this block's output for the normed inputs [B, 256] at the step's position to the
    /// residual stream, writing its key and value into the cache. With the fused kernels: the q | k | v projection, one
    /// kernel that rotates q and k and writes k and v into the cache, and split-K attention over the cache
    /// (<see cref="FusedKernels.AttendStep"/>). With libtorch's: rotary is one matmul with the position's [3, 64, 64]
    /// matrices (<see cref="StepRotations"/>), and the attention reads the cache up to the padded length
    /// (<see cref="PaddedLength"/>) under the step's mask, as block-diagonal GEMMs or per head
    /// (<see cref="LifeGpt.PrepareForDecoding"/> says which), its output projection one addmm onto x.
    /// </summary>
    internal void Step(ResidualStream residual, Tensor normed, long b, Decoder.StepTables step, IAttentionCache cache, Tensor? headBlocks, FusedKernels? kernels)
    {
        var d = Decoding;
        if (kernels is not null)
        {
            var q = kernels.RotaryStep(F.linear(normed, d.Qkv), step.Cos, step.Sin, cache.PositionMajor, step.Position);
            residual.Add(kernels.AttendStep(q, cache.PositionMajor, step.Position + 1).matmul(d.OutT));
            return;
        }
        var qkv = F.linear(normed, d.Qkv).view(b, 3, LifeGptShape.Heads, LifeGptShape.HeadDim);
        var rotated = qkv.matmul(step.Rotation!);                                             // q/8 and k rotated, v as is
        cache.WriteStep(step.Position, rotated.narrow(1, 1, 2));
        var (keysT, values) = cache.Matrices(step.Attended, perHead: d.HeadOutT is null);
        if (d.HeadOutT is { } headOutT)
        {
            var queries = rotated.narrow(1, 0, 1).mul(headBlocks!).view(b, LifeGptShape.Heads, Inner);   // [B, 8, 512]
            var weights = queries.bmm(keysT).add_(step.Mask!, Scalars.One).softmax(-1);       // [B, 8, t] over [B, 512, t]
            residual.AddProduct(weights.bmm(values).view(b, -1), headOutT);                   // row h: head h in block h
        }
        else
        {
            var queries = rotated.select(1, 0).reshape(b * LifeGptShape.Heads, 1, LifeGptShape.HeadDim);   // [B*H, 1, 64]
            var weights = queries.bmm(keysT).add_(step.Mask!, Scalars.One).softmax(-1);       // [B*H, 1, t]
            residual.AddProduct(weights.bmm(values).view(b, Inner), d.OutT);
        }
    }

    /// <summary>
    /// Derives this block's decoding layouts from its parameters (replacing earlier ones): the projection q | k | v |
    /// swap(q) | swap(k) [2048, 256] (its first 1536 rows, a view, are a step's q | k | v), the output projection
    /// transposed [512, 256], and for block-diagonal steps (<paramref name="headBlocks"/> given) that transpose over all
    /// 8 rows of [B, 8, 512]: row h's block h meets the matching rows of to_out, every other block meets zeros [4096, 256].
    /// </summary>
    internal void PrepareForDecoding(Tensor? headBlocks)
    {
        _derived.Clear();
        var projection = _derived.Own(Projection());
        var output = _derived.Own(to_out.weight!);
        var outT = _derived.Own(output.t());
        var headOutT = headBlocks is null ? null : _derived.Own(outT.repeat(LifeGptShape.Heads, 1) * headBlocks.reshape(-1, 1));
        _decoding = new DecodingLayout(projection, _derived.Own(projection.narrow(0, 0, 3 * Inner)), output, outT, headOutT);
    }

    /// <summary>[8, 8, 64]: 1 where the row is the head, 0 elsewhere (a step's block-diagonal queries and output projection).</summary>
    internal static Tensor HeadBlocks(ScalarType dtype, Device device) =>
        eye(LifeGptShape.Heads, dtype: dtype, device: device).unsqueeze(2).expand(-1, -1, LifeGptShape.HeadDim);

    /// <summary>
    /// Per position p, [3, 64, 64] in <paramref name="dtype"/>: p's rotary matrix (<see cref="RotaryEmbedding.Matrices"/>)
    /// scaled by 1/8 for q, plain for k, the identity for v. 2071 x 3 x 64 x 64 in 16 bits is 51 MB.
    /// </summary>
    internal static Tensor StepRotations(RotaryEmbedding rotary, ScalarType dtype)
    {
        var r = rotary.Matrices();                                                           // float32 [2071, 64, 64]
        var identity = eye(LifeGptShape.HeadDim, LifeGptShape.HeadDim, ScalarType.Float32, r.device).expand(LifeGptShape.Context, -1, -1);
        return stack([r.mul(Scale), r, identity], 1).to(dtype);
    }

    /// <summary>Row p: 0 for keys 0..p, -inf after (a step's padding); 2072 x 2072 in 16 bits is 8.6 MB.</summary>
    internal static Tensor StepMask(ScalarType dtype, Device device) =>
        full(PaddedContext, PaddedContext, Scalars.NegativeInfinity, dtype: dtype, device: device).triu_(1);

    /// <summary>
    /// Queries [B, H, L, 64] at positions start..start+L-1 over cached keys 0..start+L-1 (a speculative pass after a
    /// rejection). Written as matmul-softmax-matmul rather than SDPA: for short queries over a growing cache libtorch
    /// picks cuDNN attention on CUDA, which builds a new plan (~50 ms) for every new length (spec: "Reference
    /// inference speed"); this path has no such trap.
    /// </summary>
    private static Tensor CachedAttention(Tensor q, Tensor keys, Tensor values, int start)
    {
        long l = q.shape[2], t = keys.shape[2];
        var scores = matmul(q, keys.transpose(2, 3)).mul_(Scale);
        if (l > 1)
        {
            // query i (position start+i) may see keys 0..start+i
            var future = ones(l, t, ScalarType.Bool, q.device).triu_(start + 1);
            scores = scores.masked_fill(future, Scalars.NegativeInfinity);
        }
        return matmul(scores.softmax(-1), values);
    }

    private DecodingLayout Decoding => _decoding ?? throw new InvalidOperationException("LifeGpt.PrepareForDecoding derives the decoding layouts first");

    protected override void Dispose(bool disposing)
    {
        _derived.Dispose();
        base.Dispose(disposing);
    }

    /// <summary>Derived, not state: see <see cref="PrepareForDecoding"/>. HeadOutT only for block-diagonal steps.</summary>
    private sealed record DecodingLayout(Tensor Projection, Tensor Qkv, Tensor Out, Tensor OutT, Tensor? HeadOutT);

    /// <summary>A step's weights for <see cref="GreedySteps"/>: q | k | v [1536, 256] and the output projection [256, 512].</summary>
    internal (Tensor Qkv, Tensor Out) StepWeights => (Decoding.Qkv, Decoding.Out);
}
