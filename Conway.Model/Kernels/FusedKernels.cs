using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Conway.Kernels;

/// <summary>
/// The fused decoding kernels of <c>DecodingKernels.cu</c>, compiled by NVRTC for one CUDA device (once per device and
/// process, at the first model load there) and launched through the driver API on the stream libtorch uses, so they
/// order with libtorch's own kernels. They read and write libtorch tensors in place: bfloat16, contiguous, on that
/// device (<see cref="KernelArguments"/> checks each call's). <see cref="KernelChoice"/> decides whether a model uses them.
/// Where libtorch's CUDA graph calls bind (<see cref="LibtorchGraphs"/>), they also capture libtorch's work with theirs
/// (<see cref="Capture"/>).
/// </summary>
public sealed unsafe class FusedKernels
{
    /// <summary>The shapes DecodingKernels.cu is written for: LifeGPT's (LifeGptShape; a test holds the two equal).</summary>
    public const int Dim = 256, Heads = 8, HeadDim = 64, RotaryDim = 32;

    private const int Inner = Heads * HeadDim, Projection = 3 * Inner;
    private const int PartialWidth = HeadDim + 2;                             // attend_step's per-head partial: values, max, sum
    private static readonly ConcurrentDictionary<int, Lazy<(FusedKernels? Kernels, string Reason)>> PerDevice = new();

    private readonly CudaDriver _driver;
    private readonly IntPtr _context;
    private readonly int _deviceIndex, _multiprocessors;
    private readonly Device _device;
    private readonly IntPtr _addLayerNorm, _rotaryPass, _rotaryStep, _attendStep;
    internal readonly IntPtr StepEmbed, StepQkv, AttendStepAt, AttendCombine, StepOut, StepFeedForwardIn, StepFeedForwardOut, StepChoose;

    private readonly LibtorchGraphs? _graphs;

    private FusedKernels(CudaDriver driver, int deviceIndex, IntPtr context, IntPtr module, int multiprocessors, string description, LibtorchGraphs? graphs, string graphsReason)
    {
        (_driver, _deviceIndex, _context, _multiprocessors, Description) = (driver, deviceIndex, context, multiprocessors, description);
        (_graphs, GraphsUnavailable) = (graphs, graphs is null ? graphsReason : null);
        _device = new Device(DeviceType.CUDA, deviceIndex);
        _addLayerNorm = driver.Function(module, "add_layer_norm");
        _rotaryPass = driver.Function(module, "rotary_pass");
        _rotaryStep = driver.Function(module, "rotary_step");
        _attendStep = driver.Function(module, "attend_step");
        AttendCombine = driver.Function(module, "attend_combine");
        StepEmbed = driver.Function(module, "step_embed");
        StepQkv = driver.Function(module, "step_qkv");
        AttendStepAt = driver.Function(module, "attend_step_at");
        StepOut = driver.Function(module, "step_out");
        StepFeedForwardIn = driver.Function(module, "step_ff_in");
        StepFeedForwardOut = driver.Function(module, "step_ff_out");
        StepChoose = driver.Function(module, "step_choose");
    }

    /// <summary>Whether these kernels can decode with these weights: bfloat16 on their device.</summary>
    public bool Fit(Tensor weights) => weights.dtype == ScalarType.BFloat16 && On(weights.device);

    /// <summary>Whether these kernels run on <paramref name="device"/>.</summary>
    public bool On(Device device) => device.type == DeviceType.CUDA && device.index == _deviceIndex;

    /// <summary>What was compiled, with what and for what: e.g. "NVRTC 13.0, sm_90, compiled in 84 ms".</summary>
    public string Description { get; }

    /// <summary>Why libtorch's work cannot be captured here (<see cref="LibtorchGraphs.TryLoad"/>); null where it can.</summary>
    public string? GraphsUnavailable { get; }

    /// <summary>
    /// Greedy speculative passes of at most this many boards are captured as CUDA graphs, one per batch size, sharing one
    /// memory pool (<see cref="Capture"/>): one board's pass is host-bound, while a pass of many is long enough on the GPU
    /// for its ~150 calls not to matter, and each graph keeps its batch's scratch.
    /// </summary>
    public const int MaxCapturedPassBatch = 8;

    /// <summary>Whether a greedy speculative pass of <paramref name="batch"/> boards is captured here (<see cref="MaxCapturedPassBatch"/>).</summary>
    public bool CapturesPasses(int batch) => GraphsUnavailable is null && batch <= MaxCapturedPassBatch;

    /// <summary>The kernels for a CUDA device, compiled at the first call for it; or null with the reason they cannot run there.</summary>
    public static FusedKernels? For(int deviceIndex, out string reason)
    {
        var (kernels, why) = PerDevice.GetOrAdd(deviceIndex, i => new Lazy<(FusedKernels?, string)>(() => Compile(i))).Value;
        reason = why;
        return kernels;
    }

    private static (FusedKernels?, string) Compile(int deviceIndex)
    {
        var clock = Stopwatch.StartNew();
        var driver = CudaDriver.TryLoad(out string reason);
        if (driver is null) return (null, $"no CUDA driver API: {reason}");
        var nvrtc = Nvrtc.TryLoad(out reason);
        if (nvrtc is null) return (null, $"no NVRTC: {reason}");
        try
        {
            int device = driver.Device(deviceIndex);
            string architecture = $"sm_{driver.Attribute(device, CudaDriver.ComputeCapabilityMajor)}{driver.Attribute(device, CudaDriver.ComputeCapabilityMinor)}";
            var cubin = nvrtc.CompileToCubin(Source(), "DecodingKernels.cu", architecture);
            var context = driver.PrimaryContext(device);
            driver.MakeCurrent(context);
            var module = driver.LoadModule(cubin);
            int multiprocessors = driver.Attribute(device, CudaDriver.MultiprocessorCount);
            var graphs = LibtorchGraphs.TryLoad(out string graphsReason);
            return (new FusedKernels(driver, deviceIndex, context, module, multiprocessors,
                $"NVRTC {nvrtc.Version}, {architecture}, compiled in {clock.ElapsedMilliseconds} ms", graphs, graphsReason), "");
        }
        catch (InvalidOperationException e)
        {
            return (null, e.Message);
        }
    }

    /// <summary>The CUDA C source, embedded in this assembly.</summary>
    public static string Source()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("Conway.Kernels.DecodingKernels.cu")
            ?? throw new InvalidOperationException("the kernel source is not embedded in Conway.Model");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>x [N, 256] += y (if given), in place; returns LayerNorm(x) * weight (no bias) [N, 256], new.</summary>
    public Tensor AddLayerNorm(Tensor x, Tensor? y, Tensor weight, double eps)
    {
        int rows = (int)KernelArguments.Rows(x, Dim, _deviceIndex, nameof(x));
        if (y is not null) KernelArguments.Shaped(y, [rows, Dim], _deviceIndex, nameof(y));
        KernelArguments.Shaped(weight, [Dim], _deviceIndex, nameof(weight));
        var output = empty_like(x);
        IntPtr px = Data(x), py = y is null ? IntPtr.Zero : Data(y), pw = Data(weight), po = Data(output);
        float epsilon = (float)eps;
        void** arguments = stackalloc void*[] { &px, &py, &pw, &po, &rows, &epsilon };
        LaunchWarpPerRow(_addLayerNorm, rows, arguments, "add_layer_norm");
        GC.KeepAlive(y);
        return output;
    }

    /// <summary>
    /// A pass's rotary in place on the q and k of qkv [N, 1536] (N = boards x <paramref name="length"/>, positions
    /// start..start+length-1), with the bfloat16 tables cos and sin [positions, 32].
    /// </summary>
    public void RotaryPass(Tensor qkv, Tensor cos, Tensor sin, int start, int length)
    {
        int rows = (int)KernelArguments.Rows(qkv, Projection, _deviceIndex, nameof(qkv));
        KernelArguments.Table(cos, start + length, _deviceIndex, nameof(cos));
        KernelArguments.Table(sin, start + length, _deviceIndex, nameof(sin));
        if (length <= 0 || rows % length != 0) throw new ArgumentException($"qkv's {rows} rows are not whole sequences of {length}", nameof(length));
        IntPtr pq = Data(qkv), pc = Data(cos), ps = Data(sin);
        void** arguments = stackalloc void*[] { &pq, &pc, &ps, &rows, &length, &start };
        LaunchWarpPerRow(_rotaryPass, rows, arguments, "rotary_pass");
    }

    /// <summary>
    /// A step's qkv [B, 1536] at <paramref name="position"/>: writes k (rotated) and v into the cache [2, T, B, 8, 64] at
    /// the position and returns q, rotated and scaled by 1/8, [B, 512].
    /// </summary>
    public Tensor RotaryStep(Tensor qkv, Tensor cos, Tensor sin, Tensor cache, int position)
    {
        int batch = (int)KernelArguments.Rows(qkv, Projection, _deviceIndex, nameof(qkv));
        KernelArguments.Table(cos, position + 1, _deviceIndex, nameof(cos));
        KernelArguments.Table(sin, position + 1, _deviceIndex, nameof(sin));
        int cacheLength = KernelArguments.Cache(cache, batch, position + 1, _deviceIndex);
        var q = empty(batch, Inner, ScalarType.BFloat16, _device);
        IntPtr pqkv = Data(qkv), pc = Data(cos), ps = Data(sin), pcache = Data(cache), pq = Data(q);
        void** arguments = stackalloc void*[] { &pqkv, &pc, &ps, &pcache, &pq, &batch, &position, &cacheLength };
        Launch(_rotaryStep, ((uint)((batch * Projection + 255) / 256), 1), 256, arguments, "rotary_step");
        return q;
    }

    /// <summary>
    /// Attention of one query a head, q [B, 512] (scaled), over the cache's positions 0..length-1: [B, 512], the heads'
    /// outputs side by side. Split over the cache length (<see cref="Splits"/>), then combined.
    /// </summary>
    public Tensor AttendStep(Tensor q, Tensor cache, int length)
    {
        int batch = (int)KernelArguments.Rows(q, Inner, _deviceIndex, nameof(q));
        int cacheLength = KernelArguments.Cache(cache, batch, length, _deviceIndex);
        var (splits, chunk) = Splits(batch, length, _multiprocessors);
        using var partial = empty([batch, splits, Heads, PartialWidth], ScalarType.Float32, _device);
        var output = empty_like(q);
        IntPtr pq = Data(q), pcache = Data(cache), pp = Data(partial), po = Data(output);
        void** attend = stackalloc void*[] { &pq, &pcache, &pp, &batch, &length, &cacheLength, &chunk };
        Launch(_attendStep, ((uint)batch, (uint)splits), 256, attend, "attend_step");
        void** combine = stackalloc void*[] { &pp, &po, &splits };
        Launch(AttendCombine, ((uint)batch, 1), (uint)Inner, combine, "attend_combine");
        return output;
    }

    /// <summary>
    /// How attend_step splits a length: enough blocks (boards x splits) to give every multiprocessor four, unless that
    /// would make splits shorter than 64 keys (they would cost more to combine than they save), in chunks of whole
    /// multiples of 32 keys (the warp's groups take 4 at a time), and at most <see cref="MaxSplits"/>.
    /// </summary>
    public static (int Splits, int Chunk) Splits(int batch, int length, int multiprocessors)
    {
        int wanted = Math.Max(1, Math.Min((length + 63) / 64, (4 * multiprocessors + batch - 1) / batch));
        int chunk = Math.Max(32, length / wanted / 32 * 32);                  // rounded down: at least the splits wanted
        chunk = Math.Max(chunk, (length + 32 * MaxSplits - 1) / (32 * MaxSplits) * 32);
        return ((length + chunk - 1) / chunk, chunk);
    }

    /// <summary>The most splits attend_combine merges (a thread of each head loads one split's max and sum).</summary>
    public const int MaxSplits = 64;

    /// <summary>
    /// Greedy plain decoding of <paramref name="cells"/>' boards (at most <see cref="GreedySteps.MaxBatch"/>) with every
    /// step in these kernels, captured once as a CUDA graph: see <see cref="GreedySteps"/>.
    /// </summary>
    public GreedySteps CaptureGreedySteps(GreedySteps.Weights weights, IReadOnlyList<Tensor> caches, Tensor cells, int firstPosition) =>
        new(this, weights, caches, cells, firstPosition, _deviceIndex, _multiprocessors);

    /// <summary>A kernel that takes a warp a row (its <c>row_of_warp()</c>): blocks of 8 warps over <paramref name="rows"/>.</summary>
    private void LaunchWarpPerRow(IntPtr function, int rows, void** arguments, string name) =>
        Launch(function, ((uint)((rows + 7) / 8), 1), 256, arguments, name);

    /// <summary>Launches on <paramref name="stream"/>, by default the stream libtorch's kernels run on now (a capture's, while one runs).</summary>
    internal void Launch(IntPtr function, (uint X, uint Y) grid, uint block, void** arguments, string name, IntPtr stream = default)
    {
        _driver.MakeCurrent(_context);
        _driver.Launch(function, grid, block, arguments, name, stream == default ? _graphs?.CurrentStream(_deviceIndex) ?? default : stream);
    }

    /// <summary>
    /// What <paramref name="body"/> enqueues, libtorch's kernels and these, captured by libtorch as a CUDA graph with the
    /// tensors it returns as the graph's outputs (<see cref="CapturedGraph"/>), drawing on <paramref name="shared"/>'s
    /// memory pool if given; null where libtorch's graph calls do not bind (<see cref="GraphsUnavailable"/>) or libtorch's
    /// current device on this thread is another.
    /// </summary>
    internal CapturedGraph? Capture(LibtorchGraphs.MemoryPool? shared, Func<Tensor[]> body)
    {
        if (_graphs is null) return null;
        _driver.MakeCurrent(_context);
        return _graphs.Capture(_deviceIndex, shared, body);
    }

    internal IntPtr CaptureGraph(Action<IntPtr> enqueue)
    {
        _driver.MakeCurrent(_context);
        return _driver.CaptureGraph(enqueue);
    }

    internal void LaunchGraph(IntPtr graph)
    {
        _driver.MakeCurrent(_context);
        _driver.LaunchGraph(graph);
    }

    internal void DestroyGraph(IntPtr graph)
    {
        _driver.MakeCurrent(_context);
        _driver.DestroyGraph(graph);
    }

    /// <summary>A tensor's device address (the C++ data_ptr(), its offset included): TorchSharp has no public accessor.</summary>
    internal static IntPtr Data(Tensor tensor) => THSTensor_data(tensor.Handle);

    [DllImport("LibTorchSharp")]
    private static extern IntPtr THSTensor_data(IntPtr handle);
}
