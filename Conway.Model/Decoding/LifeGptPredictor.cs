using System.Diagnostics;
using Conway.Boards;
using Conway.Checkpoints;
using Conway.Kernels;
using Conway.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Conway.Decoding;

/// <summary>The LifeGPT model loaded from a checkpoint, predicting in batches of at most <see cref="MaxBatch"/> boards.</summary>
public sealed class LifeGptPredictor : IBoardPredictor
{
    private readonly LifeGptDecoder _decoder;

    private LifeGptPredictor(LifeGpt model, int maxBatch, ModelInfo info)
    {
        Model = model;
        _decoder = new LifeGptDecoder(model);
        MaxBatch = maxBatch;
        Info = info;
    }

    /// <summary>The compute precisions <see cref="Load"/> takes: auto (bf16 on CUDA, float32 on the CPU), bf16, fp32.</summary>
    public static IReadOnlyList<string> Precisions { get; } = ["auto", "bf16", "fp32"];

    /// <summary>
    /// Boards in a pass on the CPU when none is given. A speculative pass's largest temporary, the q | k | v | swap
    /// projection, is 17 MB a board in float32, and glibc's malloc gives every block past its mmap threshold (32 MB at
    /// most) fresh pages from the kernel, zeroed and faulted in again in every layer, so bigger passes cost more per board
    /// there. The shipped model on the 2-core VM (<c>conway bench --device cpu --batches-speculative 1,2,4
    /// --batches-autoregressive 1,2,4 --repeats 2</c>), a board's share of a pass of 1, 2 and 4: on 2026-12-02 speculative
    /// 0.92, 1.10 and 1.39 s, plain 10.4, 9.0 and 7.8 s; on 2026-12-03 (1 and 2) speculative 0.83 and 1.17 s, plain 9.9 and
    /// 10.0 s. Speculative decoding, the default, is fastest a board at a time, and plain decoding gains little or nothing.
    /// </summary>
    public const int CpuBoardsPerPass = 1;

    /// <summary>Boards in a pass on CUDA when none is given: about 0.05 GB each at a pass's peak in bf16.</summary>
    public const int CudaBoardsPerPass = 256;

    public ModelInfo Info { get; }
    public int MaxBatch { get; }
    public LifeGpt Model { get; }

    /// <summary>
    /// Loads a checkpoint onto a device: "cpu", "cuda" (or "cuda:N"), or "auto" (CUDA when available). On CUDA the
    /// weights and KV cache are bfloat16; on the CPU float32 (the reference precision), unless
    /// <paramref name="precision"/> (one of <see cref="Precisions"/>) says otherwise. <paramref name="kernels"/> (one of
    /// <see cref="KernelChoice.Modes"/>) chooses the fused kernels or libtorch's; <see cref="ModelInfo.Kernels"/> says which
    /// run, and why.
    /// </summary>
    public static LifeGptPredictor Load(string path, string device = "auto", int maxBatch = 0, string precision = "auto", string kernels = "auto")
    {
        var clock = Stopwatch.StartNew();
        var target = ResolveDevice(device);
        var dtype = precision switch
        {
            "bf16" => ScalarType.BFloat16,
            "fp32" => ScalarType.Float32,
            "auto" => target.type == DeviceType.CUDA ? ScalarType.BFloat16 : ScalarType.Float32,
            _ => throw new ArgumentException($"precision is {string.Join(", ", Precisions)}, not '{precision}'", nameof(precision)),
        };

        var model = new LifeGpt();
        string stored = Checkpoint.Load(model, path).ToString();
        model.MoveTo(target, dtype);
        model.eval();
        model.UseKernels(KernelChoice.For(kernels, target, dtype));

        long parameters = model.parameters().Sum(p => p.NumberOfElements);
        // the KV cache is 12 blocks x K,V x [8, 2071, 64] per board: ~51 MB in bf16, ~102 MB in float32
        if (maxBatch <= 0) maxBatch = target.type == DeviceType.CUDA ? CudaBoardsPerPass : CpuBoardsPerPass;
        var info = new ModelInfo(Path.GetFullPath(path), Checkpoint.Sha256(path), parameters,
            $"{stored} (file), {dtype} (compute)", target.ToString(), clock.Elapsed, model.Kernels.Description);
        return new LifeGptPredictor(model, maxBatch, info);
    }

    public IReadOnlyList<Prediction> Predict(IReadOnlyList<Board> boards, DecodeOptions options) =>
        Predict(boards, options, CancellationToken.None);

    /// <summary>As <see cref="Predict(IReadOnlyList{Board}, DecodeOptions)"/>, stopping between decode steps or passes once cancelled.</summary>
    public IReadOnlyList<Prediction> Predict(IReadOnlyList<Board> boards, DecodeOptions options, CancellationToken cancellation) =>
        boards.Chunk(MaxBatch).SelectMany((chunk, k) => _decoder.Decode(chunk, ForChunk(options, k), cancellation)).ToArray();

    // a chunk's boards keep their random streams: board i of the call is board i of its request
    private DecodeOptions ForChunk(DecodeOptions options, int chunk) =>
        chunk == 0 ? options : options with { StreamOffset = options.StreamOffset + chunk * MaxBatch };

    public static Device ResolveDevice(string device)
    {
        string name = device.Trim().ToLowerInvariant();
        if (name is "" or "auto") return cuda.is_available() ? CUDA : CPU;
        if (name.StartsWith("cuda", StringComparison.Ordinal) && !cuda.is_available())
            throw new InvalidOperationException($"Model:Device is '{device}' but no CUDA device is available (this build's backend is CPU-only, or no GPU is visible).");
        return new Device(name);
    }

    public void Dispose() => Model.Dispose();
}
