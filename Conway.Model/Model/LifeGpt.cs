using Conway.Kernels;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Conway.Model;

// LifeGPT, the x-transformers 1.27.21 decoder of shared/spec/lifegpt-model.md, module for module.
// Class and field names follow the reference so that state_dict keys are exactly the checkpoint's
// (net.token_emb.emb.weight, net.attn_layers.layers.{i}.0.0.weight, ...): loading needs no renaming table.

/// <summary>
/// The AutoregressiveWrapper: its only child is <c>net</c>. The one description of the network, for training
/// (<see cref="forward"/>, autograd through the parameters) and for decoding (<see cref="Pass"/> and <see cref="Step"/>,
/// which run the same modules over a key/value cache).
/// <para>
/// Decoding computes what <see cref="forward"/> does with its weights in layouts derived from the same parameters
/// (<see cref="PrepareForDecoding"/>), tuned for how few TorchSharp calls and how few bytes it takes. A decode step is
/// host-bound at small batches (each call costs ~10 us of P/Invoke and dispatch) and bound by reading the KV cache at
/// large ones; a verification pass is bound by the memory traffic of its elementwise work. Measured kernel by kernel
/// with <c>gpu/probe.py</c> (docs/PERFORMANCE.md, "How the decoding path was tuned"):
/// </para>
/// <list type="bullet">
/// <item>q, k, v are one projection, which also yields swap(q) and swap(k) on the rotary channels (the rotate-half
///   permutation with its sign, folded into the weights: <see cref="RotaryEmbedding.RotateHalfRows"/>): rotary is then
///   two in-place kernels on just the 32 rotated channels (q*cos + swap(q)*sin), where slicing, negating and
///   concatenating took ~40% of a pass;</item>
/// <item>attention in a pass reads q, k and v as views of that projection: no copies, and no cache at all in the
///   first speculative pass;</item>
/// <item>in a 1-token step, rotary is one matmul with a per-position 64x64 matrix (<see cref="RotaryEmbedding.Matrices"/>,
///   the 1/sqrt(64) scale folded into q's), and on CUDA attention is two GEMMs over the cache with all 8 heads at once:
///   the query is block-diagonal [8, 512], each row reads the whole [t, 512] key matrix once and keeps its own head's
///   block (on the CPU, per-head products: there arithmetic, not reading, is the bound). The attended length is padded
///   to a multiple of 8, the padding masked to weight 0: at odd lengths cuBLAS falls back to unaligned kernels that
///   took 94% of a step. This streams the cache at ~84% of the copy bandwidth against ~70% for per-head products
///   (512 boards on an H200);</item>
/// <item>the step's keys and values go into the cache with one copy; residual adds ride on addmm, and the step's output
///   projection takes all 8 heads' rows at once (zeros outside each head's block) instead of extracting a diagonal;
///   at one board a step is host-bound (~25 calls a block), so no call is spent that a view or a weight can save;</item>
/// <item>greedy decoding without probabilities computes only the logits of '0' and '1';</item>
/// <item>on CUDA, where <see cref="Kernels"/> are the fused ones (the default where NVRTC and the driver load), a block's
///   output is added to the residual by the next pre-norm in one kernel (<see cref="ResidualStream"/>), a pass's rotary
///   is one in-place kernel on the q | k | v projection alone, and a step's rotary, cache write and attention are
///   <c>Conway.Kernels</c>' own (split-K over the cache): docs/PERFORMANCE.md, "Fused kernels".</item>
/// </list>
/// Checked against <see cref="forward"/> by the conformance tests.
/// </summary>
public sealed class LifeGpt : nn.Module<Tensor, Tensor>
{
    public readonly TransformerWrapper net;

    private readonly Autocast _autocast = new();
    private DecodingPreparation? _preparation;
    private readonly Dictionary<object, IDisposable?> _captured = [];   // see Captured
    private LibtorchGraphs.MemoryPool? _capturePool;

    public LifeGpt() : base(nameof(LifeGpt))
    {
        net = new TransformerWrapper(_autocast);
        RegisterComponents();
    }

    /// <summary>
    /// Training with float32 master weights: run the linear layers in this dtype (bf16), the rest in float32.
    /// Null (the default) computes in the weights' own dtype.
    /// </summary>
    public ScalarType? AutocastTo { get => _autocast.To; set => _autocast.To = value; }

    /// <summary>
    /// Training: fused kernels for forward's rotary (<see cref="FusedRotary"/>) while <see cref="AutocastTo"/> is bfloat16
    /// and the model is on their device; null (the default) keeps libtorch's.
    /// </summary>
    public FusedKernels? TrainingKernels { get => _autocast.Kernels; set => _autocast.Kernels = value; }

    /// <summary>The device the weights are on.</summary>
    public Device Device => net.token_emb.emb.weight!.device;

    /// <summary>The weights' dtype, which decoding computes in (and a KV cache holds).</summary>
    public ScalarType Dtype => net.token_emb.emb.weight!.dtype;

    /// <summary>Logits [B, T, 256] for tokens [B, T] at positions 0..T-1, causal.</summary>
    public override Tensor forward(Tensor tokens) => net.forward(tokens);

    /// <summary>
    /// Decoding: logits for tokens [B, L] at positions start..start+L-1, writing their keys and values into the cache (if
    /// any, one per attention block; from start 0 none is needed). Only positions logitsFrom.. get logits;
    /// <paramref name="cellsOnly"/> gives just the '0' and '1' columns. <paramref name="cancellation"/> is checked before
    /// each of the 12 layers (a host-side check, no synchronisation): a pass over thousands of positions takes seconds on
    /// a CPU, and abandoned or timed-out work stops within a twelfth of it.
    /// </summary>
    public Tensor Pass(Tensor tokens, int start, IReadOnlyList<IAttentionCache>? cache, int logitsFrom, bool cellsOnly, CancellationToken cancellation = default)
    {
        if (start > 0 && cache is null) throw new ArgumentException("a pass after position 0 needs the cache of the positions before it", nameof(cache));
        EnsurePreparedForDecoding();
        return net.Pass(tokens, start, cache, logitsFrom, cellsOnly, cancellation);
    }

    /// <summary>Decoding: one token per sequence, tokens [B], at <paramref name="position"/>: logits [B, 1, 2 or 256].</summary>
    public Tensor Step(Tensor tokens, int position, IReadOnlyList<IAttentionCache> cache, bool cellsOnly)
    {
        EnsurePreparedForDecoding();
        return net.Step(tokens, position, cache, cellsOnly);
    }

    /// <summary>
    /// Greedy plain decoding's steps on the fused kernels' own, captured once as a CUDA graph (<see cref="GreedySteps"/>):
    /// cells [B, 1024] int64 tokens on the device, decoded in place from the cache of the positions before them; null
    /// unless the fused kernels run and B is at most <see cref="GreedySteps.MaxBatch"/> (then <see cref="Step"/> serves).
    /// </summary>
    public GreedySteps? CaptureGreedySteps(Tensor cells, IReadOnlyList<IAttentionCache> cache)
    {
        EnsurePreparedForDecoding();
        return net.CaptureGreedySteps(cells, cache);
    }

    /// <summary>
    /// What <paramref name="capture"/> made for <paramref name="key"/> at the first call (null if it could not: asked
    /// again never), kept with the decoding layouts that its graph reads: dropped when they are derived again, and with
    /// the model. Its graph comes from <see cref="CaptureGraph"/>.
    /// </summary>
    internal T? Captured<T>(object key, Func<T?> capture) where T : class, IDisposable
    {
        EnsurePreparedForDecoding();
        if (!_captured.TryGetValue(key, out var made)) _captured[key] = made = capture();
        return (T?)made;
    }

    /// <summary>
    /// What <paramref name="body"/> enqueues, captured by libtorch as a CUDA graph whose outputs are the tensors the body
    /// returns (<see cref="CapturedGraph"/>); all of a model's graphs share one memory pool, so each one's outputs are to be
    /// read before another replays. Null unless the fused kernels run and libtorch's graph calls bind.
    /// </summary>
    internal CapturedGraph? CaptureGraph(Func<Tensor[]> body)
    {
        var graph = Kernels.Kernels?.Capture(_capturePool, body);
        _capturePool ??= graph?.Pool;
        return graph;
    }

    private void DropCaptured()
    {
        foreach (var made in _captured.Values) made?.Dispose();
        _captured.Clear();
        _capturePool = null;
    }

    protected override void Dispose(bool disposing)
    {
        DropCaptured();
        base.Dispose(disposing);
    }

    /// <summary>
    /// Derives every module's decoding layouts from the current weights, replacing any derived before. They are not
    /// state: never in the state_dict, never loaded or saved. <see cref="Pass"/> and <see cref="Step"/> derive them on
    /// first use and again after a move or cast (<c>to()</c> replaces the parameters); weights changed in place (a
    /// checkpoint copied in, a training step) need this called again.
    /// </summary>
    /// <param name="blockDiagonalSteps">
    /// A step's attention as block-diagonal GEMMs or per head. Default: block-diagonal on CUDA, where reading the cache
    /// is the bound and they stream it faster; per head on the CPU, where arithmetic is the bound and the block-diagonal
    /// form's 8x products made one board's plain decoding 30 s instead of 17 s on this repository's 2-core machine.
    /// </param>
    public void PrepareForDecoding(bool? blockDiagonalSteps = null)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        DropCaptured();
        var weight = net.token_emb.emb.weight!;
        var kernels = Kernels.Kernels is { } k && k.Fit(weight) ? k : null;
        net.PrepareForDecoding(blockDiagonalSteps ?? weight.device_type == DeviceType.CUDA, kernels);
        _preparation = new DecodingPreparation(weight.dtype, weight.device_type, weight.device_index, blockDiagonalSteps);
    }

    /// <summary>
    /// The kernels decoding runs on (<see cref="KernelChoice"/>): libtorch's unless <see cref="UseKernels"/> chose the
    /// fused ones, which run while the weights stay bfloat16 on their device.
    /// </summary>
    public KernelChoice Kernels { get; private set; } = KernelChoice.Libtorch("the default until a choice is made");

    /// <summary>Decodes on these kernels from now on (the layouts are derived again).</summary>
    public void UseKernels(KernelChoice choice)
    {
        Kernels = choice;
        PrepareForDecoding(_preparation?.BlockDiagonalSteps);
    }

    /// <summary>
    /// Derives the layouts unless they match the weights' dtype and device. Compared by value: TorchSharp hands out a new
    /// Parameter object for the same weight on every read, so comparing references re-derived the layouts on every step
    /// (one board's plain decoding took 126 s instead of ~10 s on the 2-core CPU).
    /// </summary>
    private void EnsurePreparedForDecoding()
    {
        var weight = net.token_emb.emb.weight!;
        if (_preparation is not { } p || p.Dtype != weight.dtype || p.DeviceType != weight.device_type || p.DeviceIndex != weight.device_index)
            PrepareForDecoding(_preparation?.BlockDiagonalSteps);
    }

    /// <summary>What the layouts were derived from: the weights' dtype and device (a move or cast changes them) and the step form asked for.</summary>
    private sealed record DecodingPreparation(ScalarType Dtype, DeviceType DeviceType, int DeviceIndex, bool? BlockDiagonalSteps);
}

public static class LifeGptModuleExtensions
{
    /// <summary>
    /// Moves the model to a device with its weights in <paramref name="dtype"/>. The rotary tables are made first, in
    /// float32 as in the reference: rounding inv_freq to bf16 would shift every rotary angle.
    /// </summary>
    public static void MoveTo(this LifeGpt model, Device device, ScalarType dtype)
    {
        model.net.attn_layers.rotary_pos_emb.PrecomputeTables(device);
        model.to(device).to(dtype);
    }
}
