using System.Runtime.InteropServices;
using System.Text;

namespace Conway.Kernels;

/// <summary>
/// The few CUDA driver API calls that load and launch a compiled module (libcuda, which comes with the driver), bound
/// as typed function pointers when the library is found. No CUDA package is served for .NET, and libtorch's own CUDA
/// context is the device's primary context, which these calls share.
/// </summary>
internal sealed unsafe class CudaDriver
{
    private static readonly string[] LibraryNames = ["libcuda.so.1", "libcuda.so", "nvcuda.dll"];

    // CUdevice_attribute values (cuda.h)
    public const int MultiprocessorCount = 16, ComputeCapabilityMajor = 75, ComputeCapabilityMinor = 76;

    private readonly delegate* unmanaged<uint, int> _init;
    private readonly delegate* unmanaged<int*, int, int> _deviceGet;
    private readonly delegate* unmanaged<int*, int, int, int> _deviceGetAttribute;
    private readonly delegate* unmanaged<IntPtr*, int, int> _primaryContextRetain;
    private readonly delegate* unmanaged<IntPtr*, int> _contextGetCurrent;
    private readonly delegate* unmanaged<IntPtr, int> _contextSetCurrent;
    private readonly delegate* unmanaged<IntPtr*, byte*, int> _moduleLoadData;
    private readonly delegate* unmanaged<IntPtr*, IntPtr, byte*, int> _moduleGetFunction;
    private readonly delegate* unmanaged<IntPtr, uint, uint, uint, uint, uint, uint, uint, IntPtr, void**, void**, int> _launchKernel;
    private readonly delegate* unmanaged<int, byte**, int> _getErrorName;
    private readonly delegate* unmanaged<IntPtr*, uint, int> _streamCreate;
    private readonly delegate* unmanaged<IntPtr, int> _streamDestroy;
    private readonly delegate* unmanaged<IntPtr, int, int> _beginCapture;
    private readonly delegate* unmanaged<IntPtr, IntPtr*, int> _endCapture;
    private readonly delegate* unmanaged<IntPtr*, IntPtr, ulong, int> _graphInstantiate;
    private readonly delegate* unmanaged<IntPtr, IntPtr, int> _graphLaunch;
    private readonly delegate* unmanaged<IntPtr, int> _graphDestroy;
    private readonly delegate* unmanaged<IntPtr, int> _graphExecDestroy;
    private readonly delegate* unmanaged<IntPtr, int> _streamSynchronize;

    private CudaDriver(IntPtr library)
    {
        _init = (delegate* unmanaged<uint, int>)NativeLibrary.GetExport(library, "cuInit");
        _deviceGet = (delegate* unmanaged<int*, int, int>)NativeLibrary.GetExport(library, "cuDeviceGet");
        _deviceGetAttribute = (delegate* unmanaged<int*, int, int, int>)NativeLibrary.GetExport(library, "cuDeviceGetAttribute");
        _primaryContextRetain = (delegate* unmanaged<IntPtr*, int, int>)NativeLibrary.GetExport(library, "cuDevicePrimaryCtxRetain");
        _contextGetCurrent = (delegate* unmanaged<IntPtr*, int>)NativeLibrary.GetExport(library, "cuCtxGetCurrent");
        _contextSetCurrent = (delegate* unmanaged<IntPtr, int>)NativeLibrary.GetExport(library, "cuCtxSetCurrent");
        _moduleLoadData = (delegate* unmanaged<IntPtr*, byte*, int>)NativeLibrary.GetExport(library, "cuModuleLoadData");
        _moduleGetFunction = (delegate* unmanaged<IntPtr*, IntPtr, byte*, int>)NativeLibrary.GetExport(library, "cuModuleGetFunction");
        _launchKernel = (delegate* unmanaged<IntPtr, uint, uint, uint, uint, uint, uint, uint, IntPtr, void**, void**, int>)NativeLibrary.GetExport(library, "cuLaunchKernel");
        _getErrorName = (delegate* unmanaged<int, byte**, int>)NativeLibrary.GetExport(library, "cuGetErrorName");
        // cuda.h maps these names to their _v2 exports (the unversioned ones are older signatures)
        _streamCreate = (delegate* unmanaged<IntPtr*, uint, int>)NativeLibrary.GetExport(library, "cuStreamCreate");
        _streamDestroy = (delegate* unmanaged<IntPtr, int>)NativeLibrary.GetExport(library, "cuStreamDestroy_v2");
        _beginCapture = (delegate* unmanaged<IntPtr, int, int>)NativeLibrary.GetExport(library, "cuStreamBeginCapture_v2");
        _endCapture = (delegate* unmanaged<IntPtr, IntPtr*, int>)NativeLibrary.GetExport(library, "cuStreamEndCapture");
        _graphInstantiate = (delegate* unmanaged<IntPtr*, IntPtr, ulong, int>)NativeLibrary.GetExport(library, "cuGraphInstantiateWithFlags");
        _graphLaunch = (delegate* unmanaged<IntPtr, IntPtr, int>)NativeLibrary.GetExport(library, "cuGraphLaunch");
        _graphDestroy = (delegate* unmanaged<IntPtr, int>)NativeLibrary.GetExport(library, "cuGraphDestroy");
        _graphExecDestroy = (delegate* unmanaged<IntPtr, int>)NativeLibrary.GetExport(library, "cuGraphExecDestroy");
        _streamSynchronize = (delegate* unmanaged<IntPtr, int>)NativeLibrary.GetExport(library, "cuStreamSynchronize");
    }

    /// <summary>The driver, initialised; or null with the reason (no library, or an export missing).</summary>
    public static CudaDriver? TryLoad(out string reason)
    {
        if (!NativeLibraries.TryLoadAny(LibraryNames, out var library, out reason)) return null;
        try
        {
            var driver = new CudaDriver(library);
            driver.Check(driver._init(0), "cuInit");
            return driver;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or InvalidOperationException)
        {
            reason = $"the CUDA driver library does not serve: {e.Message}";
            return null;
        }
    }

    public int Device(int ordinal)
    {
        int device;
        Check(_deviceGet(&device, ordinal), "cuDeviceGet");
        return device;
    }

    public int Attribute(int device, int attribute)
    {
        int value;
        Check(_deviceGetAttribute(&value, attribute, device), "cuDeviceGetAttribute");
        return value;
    }

    /// <summary>The device's primary context: the one libtorch's CUDA runtime uses.</summary>
    public IntPtr PrimaryContext(int device)
    {
        IntPtr context;
        Check(_primaryContextRetain(&context, device), "cuDevicePrimaryCtxRetain");
        return context;
    }

    /// <summary>Makes the context current on this thread unless it already is (a driver call costs well under a microsecond).</summary>
    public void MakeCurrent(IntPtr context)
    {
        IntPtr current;
        Check(_contextGetCurrent(&current), "cuCtxGetCurrent");
        if (current != context) Check(_contextSetCurrent(context), "cuCtxSetCurrent");
    }

    public IntPtr LoadModule(byte[] image)
    {
        IntPtr module;
        fixed (byte* data = image) Check(_moduleLoadData(&module, data), "cuModuleLoadData");
        return module;
    }

    public IntPtr Function(IntPtr module, string name)
    {
        IntPtr function;
        fixed (byte* text = NativeLibraries.CString(name)) Check(_moduleGetFunction(&function, module, text), $"cuModuleGetFunction({name})");
        return function;
    }

    /// <summary>
    /// Launches on <paramref name="stream"/>; by default the legacy default stream (handle 0), the stream libtorch's own
    /// kernels run on here.
    /// </summary>
    public void Launch(IntPtr function, (uint X, uint Y) grid, uint block, void** arguments, string name, IntPtr stream = default) =>
        Check(_launchKernel(function, grid.X, grid.Y, 1, block, 1, 1, 0, stream, arguments, null), name);

    /// <summary>
    /// The launches <paramref name="enqueue"/> makes on the stream it is given, captured as an instantiated graph (a
    /// CUgraphExec) that <see cref="LaunchGraph"/> replays. They are captured on a stream of their own (non-blocking: the
    /// capture must not join libtorch's legacy stream), in relaxed mode, so another thread's CUDA calls meanwhile are
    /// not disturbed; nothing runs until a replay.
    /// </summary>
    public IntPtr CaptureGraph(Action<IntPtr> enqueue)
    {
        const uint nonBlocking = 1;                                   // CU_STREAM_NON_BLOCKING
        const int relaxed = 2;                                        // CU_STREAM_CAPTURE_MODE_RELAXED
        IntPtr stream, graph = IntPtr.Zero, exec;
        Check(_streamCreate(&stream, nonBlocking), "cuStreamCreate");
        try
        {
            Check(_beginCapture(stream, relaxed), "cuStreamBeginCapture");
            try
            {
                enqueue(stream);
            }
            finally
            {
                Check(_endCapture(stream, &graph), "cuStreamEndCapture");
            }
            Check(_graphInstantiate(&exec, graph, 0), "cuGraphInstantiateWithFlags");
            return exec;
        }
        finally
        {
            if (graph != IntPtr.Zero) _graphDestroy(graph);
            _streamDestroy(stream);
        }
    }

    /// <summary>Replays a captured graph on the legacy default stream: ordered after and before libtorch's kernels.</summary>
    public void LaunchGraph(IntPtr exec) => Check(_graphLaunch(exec, IntPtr.Zero), "cuGraphLaunch");

    /// <summary>Destroys a captured graph once the legacy stream's work, its replays included, is done.</summary>
    public void DestroyGraph(IntPtr exec)
    {
        Check(_streamSynchronize(IntPtr.Zero), "cuStreamSynchronize");
        _graphExecDestroy(exec);
    }

    private void Check(int result, string call)
    {
        if (result == 0) return;
        byte* name = null;
        string text = _getErrorName(result, &name) == 0 && name != null ? Marshal.PtrToStringUTF8((IntPtr)name)! : $"error {result}";
        throw new InvalidOperationException($"{call} failed: {text}");
    }
}

/// <summary>NVRTC, CUDA's run-time compiler (libnvrtc, which ships with CUDA libtorch distributions): CUDA C to a cubin.</summary>
internal sealed unsafe class Nvrtc
{
    private static readonly string[] LibraryNames =
        ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so", "nvrtc64_130_0.dll", "nvrtc64_120_0.dll"];

    private readonly delegate* unmanaged<int*, int*, int> _version;
    private readonly delegate* unmanaged<IntPtr*, byte*, byte*, int, byte**, byte**, int> _createProgram;
    private readonly delegate* unmanaged<IntPtr, int, byte**, int> _compileProgram;
    private readonly delegate* unmanaged<IntPtr, nuint*, int> _logSize;
    private readonly delegate* unmanaged<IntPtr, byte*, int> _log;
    private readonly delegate* unmanaged<IntPtr, nuint*, int> _cubinSize;
    private readonly delegate* unmanaged<IntPtr, byte*, int> _cubin;
    private readonly delegate* unmanaged<IntPtr*, int> _destroyProgram;

    private Nvrtc(IntPtr library)
    {
        _version = (delegate* unmanaged<int*, int*, int>)NativeLibrary.GetExport(library, "nvrtcVersion");
        _createProgram = (delegate* unmanaged<IntPtr*, byte*, byte*, int, byte**, byte**, int>)NativeLibrary.GetExport(library, "nvrtcCreateProgram");
        _compileProgram = (delegate* unmanaged<IntPtr, int, byte**, int>)NativeLibrary.GetExport(library, "nvrtcCompileProgram");
        _logSize = (delegate* unmanaged<IntPtr, nuint*, int>)NativeLibrary.GetExport(library, "nvrtcGetProgramLogSize");
        _log = (delegate* unmanaged<IntPtr, byte*, int>)NativeLibrary.GetExport(library, "nvrtcGetProgramLog");
        _cubinSize = (delegate* unmanaged<IntPtr, nuint*, int>)NativeLibrary.GetExport(library, "nvrtcGetCUBINSize");
        _cubin = (delegate* unmanaged<IntPtr, byte*, int>)NativeLibrary.GetExport(library, "nvrtcGetCUBIN");
        _destroyProgram = (delegate* unmanaged<IntPtr*, int>)NativeLibrary.GetExport(library, "nvrtcDestroyProgram");
    }

    /// <summary>NVRTC; or null with the reason.</summary>
    public static Nvrtc? TryLoad(out string reason)
    {
        if (!NativeLibraries.TryLoadAny(LibraryNames, out var library, out reason)) return null;
        try
        {
            return new Nvrtc(library);
        }
        catch (EntryPointNotFoundException e)
        {
            reason = $"the NVRTC library does not serve: {e.Message}";
            return null;
        }
    }

    public string Version
    {
        get
        {
            int major, minor;
            return _version(&major, &minor) == 0 ? $"{major}.{minor}" : "unknown";
        }
    }

    /// <summary>Compiles CUDA C for one architecture (e.g. sm_90) to a cubin; a compile error throws with NVRTC's log.</summary>
    public byte[] CompileToCubin(string source, string name, string architecture)
    {
        IntPtr program;
        fixed (byte* text = NativeLibraries.CString(source))
        fixed (byte* file = NativeLibraries.CString(name))
            Check(_createProgram(&program, text, file, 0, null, null), "nvrtcCreateProgram");
        try
        {
            string[] options = [$"--gpu-architecture={architecture}", "--std=c++17"];
            var encoded = options.Select(NativeLibraries.CString).ToArray();
            var handles = encoded.Select(o => GCHandle.Alloc(o, GCHandleType.Pinned)).ToArray();
            try
            {
                var pointers = stackalloc byte*[encoded.Length];
                for (int i = 0; i < encoded.Length; i++) pointers[i] = (byte*)handles[i].AddrOfPinnedObject();
                int compiled = _compileProgram(program, encoded.Length, pointers);
                if (compiled != 0) throw new InvalidOperationException($"NVRTC could not compile {name} for {architecture}: {Log(program)}");
            }
            finally
            {
                foreach (var h in handles) h.Free();
            }
            nuint size;
            Check(_cubinSize(program, &size), "nvrtcGetCUBINSize");
            var cubin = new byte[(int)size];
            fixed (byte* data = cubin) Check(_cubin(program, data), "nvrtcGetCUBIN");
            return cubin;
        }
        finally
        {
            _destroyProgram(&program);
        }
    }

    private string Log(IntPtr program)
    {
        nuint size;
        if (_logSize(program, &size) != 0 || size == 0) return "(no log)";
        var log = new byte[(int)size];
        fixed (byte* data = log) _log(program, data);
        return Encoding.UTF8.GetString(log).TrimEnd('\0', '\n');
    }

    private static void Check(int result, string call)
    {
        if (result != 0) throw new InvalidOperationException($"{call} failed with NVRTC result {result}");
    }
}

internal static class NativeLibraries
{
    /// <summary>Loads the first of the names the loader finds (its usual search path: LD_LIBRARY_PATH and the like).</summary>
    public static bool TryLoadAny(IReadOnlyList<string> names, out IntPtr library, out string reason)
    {
        foreach (var name in names)
            if (NativeLibrary.TryLoad(name, out library))
            {
                reason = "";
                return true;
            }
        library = IntPtr.Zero;
        reason = $"none of {string.Join(", ", names)} is on the library path";
        return false;
    }

    /// <summary>A NUL-terminated UTF-8 copy of the text.</summary>
    public static byte[] CString(string text) => Encoding.UTF8.GetBytes(text + "\0");
}
