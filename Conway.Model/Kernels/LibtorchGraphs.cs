using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Conway.Kernels;

/// <summary>
/// libtorch's own CUDA graphs (<c>at::cuda::CUDAGraph</c>, what <c>torch.cuda.graph</c> uses) and its current stream
/// (<c>c10::cuda</c>), bound by their exported C++ names: TorchSharp exposes neither. While a graph captures, libtorch's
/// kernels run on a stream from libtorch's pool that is the thread's current stream, the fused kernels launch on that
/// stream too (<see cref="CurrentStream"/>), and the caching allocator serves the capture from a private memory pool
/// that no other allocation takes until the graph is destroyed: so a replay never writes memory that anything else holds.
/// <para>
/// The names are the Itanium C++ ABI's, exported by the Linux builds of libtorch 2.10 and 2.11 (TorchSharp 0.107's and
/// PyTorch 2.11's). A CUDA stream object is 16 bytes (device, then stream id) and is passed and returned in two
/// registers; a bool or a device index goes in as an int. Where the names are not exported (Windows, another libtorch)
/// <see cref="TryLoad"/> says so and nothing is captured. C++ exceptions must not cross into .NET: these calls throw
/// only on misuse that <see cref="CapturedGraph"/> rules out (a capture on the default stream, or ended on another
/// stream than it began) or when a capture was invalidated by a synchronising call, which no captured body makes.
/// </para>
/// </summary>
internal sealed unsafe class LibtorchGraphs
{
    /// <summary>c10::cuda::CUDAStream by value: c10::Device (type, index) in the first eightbyte, the StreamId in the second.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal readonly struct CudaStream
    {
        public readonly long Device, Id;
    }

    private const int GraphObjectBytes = 1024;   // sizeof(at::cuda::CUDAGraph) is ~120 in 2.10-2.11; the object lives in native memory
    private const int ThreadLocalCapture = 1;    // cudaStreamCaptureModeThreadLocal: only the capturing thread is restricted

    private readonly delegate* unmanaged<int, int, CudaStream> _streamFromPool;        // (isHighPriority, device)
    private readonly delegate* unmanaged<int, CudaStream> _currentStream;             // (device)
    private readonly delegate* unmanaged<CudaStream, void> _setCurrentStream;
    private readonly delegate* unmanaged<CudaStream*, IntPtr> _streamHandle;          // CUDAStream::stream() const
    private readonly delegate* unmanaged<IntPtr, int, void> _construct;               // CUDAGraph(bool keep_graph)
    private readonly delegate* unmanaged<IntPtr, void> _destruct;
    private readonly delegate* unmanaged<IntPtr, ulong, ulong, int, void> _captureBegin;   // (MempoolId_t pool, cudaStreamCaptureMode)
    private readonly delegate* unmanaged<IntPtr, void> _captureEnd;
    private readonly delegate* unmanaged<IntPtr, void> _replay;
    private readonly delegate* unmanaged<IntPtr, MemoryPool> _pool;

    private LibtorchGraphs(IntPtr c10Cuda, IntPtr torchCuda)
    {
        _streamFromPool = (delegate* unmanaged<int, int, CudaStream>)NativeLibrary.GetExport(c10Cuda, "_ZN3c104cuda17getStreamFromPoolEba");
        _currentStream = (delegate* unmanaged<int, CudaStream>)NativeLibrary.GetExport(c10Cuda, "_ZN3c104cuda20getCurrentCUDAStreamEa");
        _setCurrentStream = (delegate* unmanaged<CudaStream, void>)NativeLibrary.GetExport(c10Cuda, "_ZN3c104cuda20setCurrentCUDAStreamENS0_10CUDAStreamE");
        _streamHandle = (delegate* unmanaged<CudaStream*, IntPtr>)NativeLibrary.GetExport(c10Cuda, "_ZNK3c104cuda10CUDAStream6streamEv");
        _construct = (delegate* unmanaged<IntPtr, int, void>)NativeLibrary.GetExport(torchCuda, "_ZN2at4cuda9CUDAGraphC1Eb");
        _destruct = (delegate* unmanaged<IntPtr, void>)NativeLibrary.GetExport(torchCuda, "_ZN2at4cuda9CUDAGraphD1Ev");
        _captureBegin = (delegate* unmanaged<IntPtr, ulong, ulong, int, void>)NativeLibrary.GetExport(torchCuda, "_ZN2at4cuda9CUDAGraph13capture_beginESt4pairIyyE21cudaStreamCaptureMode");
        _captureEnd = (delegate* unmanaged<IntPtr, void>)NativeLibrary.GetExport(torchCuda, "_ZN2at4cuda9CUDAGraph11capture_endEv");
        _replay = (delegate* unmanaged<IntPtr, void>)NativeLibrary.GetExport(torchCuda, "_ZN2at4cuda9CUDAGraph6replayEv");
        _pool = (delegate* unmanaged<IntPtr, MemoryPool>)NativeLibrary.GetExport(torchCuda, "_ZN2at4cuda9CUDAGraph4poolEv");
    }

    /// <summary>The bindings; or null with the reason (no CUDA libtorch loaded, or a name not exported).</summary>
    public static LibtorchGraphs? TryLoad(out string reason)
    {
        if (!NativeLibraries.TryLoadAny(["libc10_cuda.so"], out var c10Cuda, out reason)
            || !NativeLibraries.TryLoadAny(["libtorch_cuda.so"], out var torchCuda, out reason))
            return null;
        try
        {
            return new LibtorchGraphs(c10Cuda, torchCuda);
        }
        catch (EntryPointNotFoundException e)
        {
            reason = $"libtorch does not export its CUDA graph calls under the names of its Linux 2.10-2.11 builds: {e.Message}";
            return null;
        }
    }

    /// <summary>The cudaStream_t libtorch's kernels run on now on this thread (0, the legacy default stream, outside a capture).</summary>
    public IntPtr CurrentStream(int deviceIndex)
    {
        var stream = _currentStream(deviceIndex);
        return _streamHandle(&stream);
    }

    /// <summary>
    /// Captures what <paramref name="body"/> enqueues on <paramref name="deviceIndex"/> as a graph; <paramref name="shared"/>:
    /// the memory pool of an earlier graph to draw from (see <see cref="CapturedGraph"/>). Null, capturing nothing, unless
    /// the device is libtorch's current one on this thread (libtorch captures on the current device's stream; the fused
    /// kernels make their device's context current before this).
    /// </summary>
    public CapturedGraph? Capture(int deviceIndex, MemoryPool? shared, Func<Tensor[]> body)
    {
        if ((sbyte)(_currentStream(-1).Device >> 8) != deviceIndex) return null;   // the current device's stream: its Device is (type, index)
        var device = new Device(DeviceType.CUDA, deviceIndex);
        cuda.synchronize(device);                                     // what the legacy stream wrote before is there
        var previous = _currentStream(deviceIndex);
        _setCurrentStream(_streamFromPool(0, deviceIndex));
        IntPtr graph = IntPtr.Zero;
        bool capturing = false;
        try
        {
            foreach (var warm in body()) warm.Dispose();              // once outside the capture: lazy set-up, cuBLAS's workspace for the stream
            cuda.synchronize(device);
            graph = (IntPtr)NativeMemory.AllocZeroed(GraphObjectBytes);
            _construct(graph, 0);
            var pool = shared ?? default;
            _captureBegin(graph, pool.First, pool.Second, ThreadLocalCapture);
            capturing = true;
            Tensor[] outputs;
            try
            {
                outputs = body().Select(output => output.DetachFromDisposeScope()).ToArray();
            }
            finally
            {
                capturing = false;
                _captureEnd(graph);
            }
            return new CapturedGraph(this, graph, outputs, _pool(graph), device);
        }
        catch when (graph != IntPtr.Zero && !capturing)
        {
            Destroy(graph);
            throw;
        }
        finally
        {
            _setCurrentStream(previous);
        }
    }

    internal void Replay(IntPtr graph) => _replay(graph);

    internal void Destroy(IntPtr graph)
    {
        _destruct(graph);
        NativeMemory.Free((void*)graph);
    }

    /// <summary>A caching-allocator pool id (MempoolId_t: a graph-private pool's id first, a user pool's second; {0, 0} asks for a new one).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal readonly record struct MemoryPool(ulong First, ulong Second);
}

/// <summary>
/// Work captured once by libtorch as a CUDA graph, with the tensors it wrote during the capture (<see cref="Outputs"/>,
/// in its private pool, rewritten by every replay). <see cref="Replay"/> runs it on the current (legacy default) stream,
/// ordered after and before libtorch's other kernels; the tensors it read when captured must still hold their inputs
/// then. Graphs that share a pool may use the same scratch memory, so each one's outputs are to be read before
/// another one replays.
/// </summary>
internal sealed class CapturedGraph : IDisposable
{
    private readonly LibtorchGraphs _graphs;
    private readonly Device _device;
    private IntPtr _graph;

    internal CapturedGraph(LibtorchGraphs graphs, IntPtr graph, Tensor[] outputs, LibtorchGraphs.MemoryPool pool, Device device) =>
        (_graphs, _graph, Outputs, Pool, _device) = (graphs, graph, outputs, pool, device);

    public Tensor[] Outputs { get; }

    /// <summary>Its memory pool, for later graphs to share.</summary>
    public LibtorchGraphs.MemoryPool Pool { get; }

    public void Replay()
    {
        ObjectDisposedException.ThrowIf(_graph == IntPtr.Zero, this);
        _graphs.Replay(_graph);
    }

    public void Dispose()
    {
        if (_graph == IntPtr.Zero) return;
        cuda.synchronize(_device);                                    // no replay is still running
        foreach (var output in Outputs) output.Dispose();
        _graphs.Destroy(_graph);
        _graph = IntPtr.Zero;
    }
}
