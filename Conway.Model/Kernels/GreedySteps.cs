using TorchSharp;
using static TorchSharp.torch;

namespace Conway.Kernels;

/// <summary>
/// Greedy plain decoding of a few boards with every decode step in <c>DecodingKernels.cu</c>'s own kernels (the
/// embedding, each block's norm + projection + rotary + cache write, split-K attention, the output projection and the
/// feed-forward with their residual adds, the final norm and the choice of cell): 74 launches a step, captured once as
/// a CUDA graph and replayed once a cell. One board's plain step on libtorch's kernels makes ~260 TorchSharp calls and
/// on the fused ones still ~10 calls and 4 launches a block, each some microseconds of host time; a replay is one
/// driver call (docs/PERFORMANCE.md, "Fused kernels": 0.35 s a board against 1.55 s). Nothing in a step depends on
/// the host: the cell it decodes is a counter on the device, which the last kernel advances.
/// <para>
/// The step rounds every intermediate as the libtorch path does (matmul outputs, with their bias, to bfloat16; then the
/// residual add), but its matrix-vector products sum in another order than cuBLAS's GEMMs: a near-tie between a cell's
/// two logits can fall the other way (on the 2,000 eval boards none did: docs/PERFORMANCE.md, "Fused kernels").
/// </para>
/// </summary>
public sealed unsafe class GreedySteps : IDisposable
{
    /// <summary>The most boards a step takes (STEP_BATCH in DecodingKernels.cu: each block holds every board's inputs).</summary>
    public const int MaxBatch = 8;

    private const int Cells = 1024, FeedForwardRows = 1024, PartialWidth = FusedKernels.HeadDim + 2;

    /// <summary>
    /// The weights a step reads, bfloat16 and contiguous on the kernels' device: the embedding [256, 256], each attention +
    /// feed-forward pair's, the final norm's [256] (every norm's epsilon: <paramref name="Eps"/>), the logits rows of the
    /// dead and the alive cell [2, 256] (tokens <paramref name="DeadToken"/> and the next) and the rotary tables [2071, 1, 32].
    /// </summary>
    public sealed record Weights(Tensor Embedding, IReadOnlyList<Pair> Pairs, Tensor FinalNorm, double Eps, Tensor CellLogits, long DeadToken, Tensor Cos, Tensor Sin);

    /// <summary>
    /// One pair: the attention's pre-norm [256], q | k | v [1536, 256] and output projection [256, 512]; the feed-forward's
    /// pre-norm [256], first linear [1024, 256] + [1024] and second [256, 1024] + [256].
    /// </summary>
    public sealed record Pair(Tensor AttentionNorm, Tensor Qkv, Tensor Out, Tensor FeedForwardNorm, Tensor In, Tensor InBias, Tensor Hidden, Tensor HiddenBias);

    private readonly FusedKernels _kernels;
    private readonly Tensor _cell, _x, _q, _partial, _o, _h, _logits;   // the graph holds their addresses: they live as long as it
    private readonly IntPtr _graph;

    internal GreedySteps(FusedKernels kernels, Weights weights, IReadOnlyList<Tensor> caches, Tensor cells, int firstPosition, int deviceIndex, int multiprocessors)
    {
        int batch = Check(weights, caches, cells, firstPosition, deviceIndex);
        _kernels = kernels;
        var device = new Device(DeviceType.CUDA, deviceIndex);
        int splits = Splits(batch, multiprocessors);
        _cell = zeros(1, ScalarType.Int32, device);
        _x = empty(batch, FusedKernels.Dim, ScalarType.BFloat16, device);
        _q = empty(batch, FusedKernels.Heads * FusedKernels.HeadDim, ScalarType.BFloat16, device);
        _o = empty_like(_q);
        _partial = empty([batch, splits, FusedKernels.Heads, PartialWidth], ScalarType.Float32, device);
        _h = empty(batch, FeedForwardRows, ScalarType.BFloat16, device);
        _logits = empty(batch, 2, ScalarType.Float32, device);
        _graph = kernels.CaptureGraph(stream => Enqueue(stream, weights, caches, cells, firstPosition, batch, splits));
    }

    /// <summary>
    /// Decodes cells <paramref name="from"/>..<paramref name="to"/> - 1 of every board into the cells tensor, one replay a
    /// cell (from 1: cell from - 1 is the first step's input). Cancellation is checked before each replay; the replays
    /// run asynchronously, ordered with libtorch's kernels.
    /// </summary>
    public void Run(int from, int to, CancellationToken cancellation)
    {
        if (from < 1 || to > Cells || from > to) throw new ArgumentOutOfRangeException(nameof(from), $"cells {from}..{to - 1} are not within 1..{Cells - 1}");
        using (var start = tensor(new[] { from })) _cell.copy_(start);
        for (int cell = from; cell < to; cell++)
        {
            cancellation.ThrowIfCancellationRequested();
            _kernels.LaunchGraph(_graph);
        }
    }

    /// <summary>The last step's logits of the dead and the alive cell [B, 2], float32 holding bfloat16 values (as the libtorch path rounds them).</summary>
    public Tensor Logits => _logits;

    /// <summary>attend_step_at's splits of the cache: four blocks a multiprocessor, at most 64 (at the shortest length, 1,045 keys, a split then holds 17).</summary>
    internal static int Splits(int batch, int multiprocessors) => Math.Clamp(4 * multiprocessors / batch, 1, FusedKernels.MaxSplits);

    /// <summary>The arguments' shapes, dtypes and device (the kernels index memory by them); returns the batch.</summary>
    internal static int Check(Weights weights, IReadOnlyList<Tensor> caches, Tensor cells, int firstPosition, int deviceIndex)
    {
        if (cells.shape[0] is < 1 or > MaxBatch) throw new ArgumentException($"a captured step takes 1 to {MaxBatch} boards, not {cells.shape[0]}", nameof(cells));
        long batch = KernelArguments.Tokens(cells, Cells, deviceIndex, nameof(cells));
        if (caches.Count != weights.Pairs.Count) throw new ArgumentException($"{weights.Pairs.Count} attention blocks need as many caches, not {caches.Count}", nameof(caches));
        const int dim = FusedKernels.Dim, inner = FusedKernels.Heads * FusedKernels.HeadDim;
        KernelArguments.Shaped(weights.Embedding, [256, dim], deviceIndex, nameof(weights.Embedding));
        KernelArguments.Shaped(weights.FinalNorm, [dim], deviceIndex, nameof(weights.FinalNorm));
        KernelArguments.Shaped(weights.CellLogits, [2, dim], deviceIndex, nameof(weights.CellLogits));
        KernelArguments.Table(weights.Cos, firstPosition + Cells, deviceIndex, nameof(weights.Cos));
        KernelArguments.Table(weights.Sin, firstPosition + Cells, deviceIndex, nameof(weights.Sin));
        foreach (var p in weights.Pairs)
        {
            KernelArguments.Shaped(p.AttentionNorm, [dim], deviceIndex, nameof(p.AttentionNorm));
            KernelArguments.Shaped(p.Qkv, [3 * inner, dim], deviceIndex, nameof(p.Qkv));
            KernelArguments.Shaped(p.Out, [dim, inner], deviceIndex, nameof(p.Out));
            KernelArguments.Shaped(p.FeedForwardNorm, [dim], deviceIndex, nameof(p.FeedForwardNorm));
            KernelArguments.Shaped(p.In, [FeedForwardRows, dim], deviceIndex, nameof(p.In));
            KernelArguments.Shaped(p.InBias, [FeedForwardRows], deviceIndex, nameof(p.InBias));
            KernelArguments.Shaped(p.Hidden, [dim, FeedForwardRows], deviceIndex, nameof(p.Hidden));
            KernelArguments.Shaped(p.HiddenBias, [dim], deviceIndex, nameof(p.HiddenBias));
        }
        foreach (var cache in caches) KernelArguments.Cache(cache, batch, firstPosition + Cells, deviceIndex);
        return (int)batch;
    }

    /// <summary>One decode step's launches, in order, on <paramref name="stream"/>.</summary>
    private void Enqueue(IntPtr stream, Weights weights, IReadOnlyList<Tensor> caches, Tensor cells, int firstPosition, int batch, int splits)
    {
        var at = new Addresses(FusedKernels.Data(_cell), FusedKernels.Data(_x), FusedKernels.Data(_q), FusedKernels.Data(_o),
            FusedKernels.Data(_partial), FusedKernels.Data(_h), FusedKernels.Data(cells), FusedKernels.Data(weights.Cos), FusedKernels.Data(weights.Sin));
        IntPtr tokens = at.Cells, step = at.Step, x = at.X, embedding = FusedKernels.Data(weights.Embedding);
        void** embed = stackalloc void*[] { &tokens, &step, &embedding, &x };
        _kernels.Launch(_kernels.StepEmbed, ((uint)batch, 1), 32, embed, "step_embed", stream);
        for (int i = 0; i < weights.Pairs.Count; i++)
            EnqueuePair(stream, weights.Pairs[i], caches[i], at, (float)weights.Eps, firstPosition, batch, splits);
        IntPtr finalNorm = FusedKernels.Data(weights.FinalNorm), cellLogits = FusedKernels.Data(weights.CellLogits), logits = FusedKernels.Data(_logits);
        float eps = (float)weights.Eps;
        long dead = weights.DeadToken;
        void** choose = stackalloc void*[] { &x, &finalNorm, &eps, &cellLogits, &tokens, &logits, &step, &batch, &dead };
        _kernels.Launch(_kernels.StepChoose, (1, 1), 256, choose, "step_choose", stream);
    }

    /// <summary>An attention block and its feed-forward: six launches.</summary>
    private void EnqueuePair(IntPtr stream, Pair p, Tensor layerCache, Addresses at, float eps, int firstPosition, int batch, int splits)
    {
        IntPtr x = at.X, q = at.Q, o = at.O, partial = at.Partial, h = at.H, step = at.Step, cos = at.Cos, sin = at.Sin;
        IntPtr cache = FusedKernels.Data(layerCache), attentionNorm = FusedKernels.Data(p.AttentionNorm), qkv = FusedKernels.Data(p.Qkv);
        IntPtr output = FusedKernels.Data(p.Out), feedForwardNorm = FusedKernels.Data(p.FeedForwardNorm);
        IntPtr w1 = FusedKernels.Data(p.In), b1 = FusedKernels.Data(p.InBias), w2 = FusedKernels.Data(p.Hidden), b2 = FusedKernels.Data(p.HiddenBias);
        int cacheLength = (int)layerCache.shape[1];
        void** project = stackalloc void*[] { &x, &attentionNorm, &eps, &qkv, &cos, &sin, &cache, &q, &batch, &firstPosition, &step, &cacheLength };
        _kernels.Launch(_kernels.StepQkv, (3 * FusedKernels.Heads, 1), 256, project, "step_qkv", stream);
        void** attend = stackalloc void*[] { &q, &cache, &partial, &batch, &firstPosition, &step, &cacheLength };
        _kernels.Launch(_kernels.AttendStepAt, ((uint)batch, (uint)splits), 256, attend, "attend_step_at", stream);
        void** combine = stackalloc void*[] { &partial, &o, &splits };
        _kernels.Launch(_kernels.AttendCombine, ((uint)batch, 1), FusedKernels.Heads * FusedKernels.HeadDim, combine, "attend_combine", stream);
        void** projectOut = stackalloc void*[] { &o, &output, &x, &batch };
        _kernels.Launch(_kernels.StepOut, (FusedKernels.Dim / 8, 1), 256, projectOut, "step_out", stream);
        void** hidden = stackalloc void*[] { &x, &feedForwardNorm, &eps, &w1, &b1, &h, &batch };
        _kernels.Launch(_kernels.StepFeedForwardIn, (FeedForwardRows / 32, 1), 256, hidden, "step_ff_in", stream);
        void** feedForward = stackalloc void*[] { &h, &w2, &b2, &x, &batch };
        _kernels.Launch(_kernels.StepFeedForwardOut, (FusedKernels.Dim / 8, 1), 256, feedForward, "step_ff_out", stream);
    }

    /// <summary>The device addresses every step reads: the cell counter, the scratch, the cells and the rotary tables.</summary>
    private readonly record struct Addresses(IntPtr Step, IntPtr X, IntPtr Q, IntPtr O, IntPtr Partial, IntPtr H, IntPtr Cells, IntPtr Cos, IntPtr Sin);

    public void Dispose()
    {
        _kernels.DestroyGraph(_graph);
        foreach (var t in new[] { _cell, _x, _q, _o, _partial, _h, _logits }) t.Dispose();
    }
}
