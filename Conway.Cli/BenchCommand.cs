using System.Diagnostics;
using System.Globalization;
using System.Text;
using Conway.Boards;
using Conway.Codec;
using Conway.Decoding;
using Conway.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Conway.Cli;

/// <summary>
/// <c>conway bench</c>: greedy decoding throughput and latency, strategy x batch size, against the floors of the card it
/// runs on (measured in the same run: device copy bandwidth and bf16 matmul rate). Prints one Markdown table.
/// </summary>
public static class BenchCommand
{
    private const int Blocks = LifeGptShape.Blocks / 2, Pass = LifeGptCodec.CellsEnd - 1;   // 12 attention blocks; 2068 tokens
    // Plain decoding reads the whole KV cache once a step: 12 blocks x K,V x 8 heads x 64 x 2 bytes = 24,576 bytes
    // per cached token, summed over the 1024 steps (1045..2068 cached tokens).
    private const double BytesPerBoardPlain = Blocks * 2.0 * LifeGptShape.Heads * LifeGptShape.HeadDim * 2
        * (LifeGptCodec.PromptLength + Pass) * Board.Cells / 2;
    // One verification pass over 2068 tokens: 2 x 12.6M matmul weights x 2068 tokens + causal attention
    // (12 blocks x 8 heads x 2 matmuls x 2 x 64 x 2068^2 / 2): ~105 GFLOP.
    private const double FlopsPerBoardPass = 2.0 * 12_582_912 * Pass
        + Blocks * LifeGptShape.Heads * 2 * 2 * LifeGptShape.HeadDim * (double)Pass * Pass / 2;

    public static int Run(CliArgs args)
    {
        string[] modelPaths = args.String("model", Path.Combine("models", "lifegpt.safetensors")).Split(',');
        string device = args.String("device", "auto");
        string precision = args.String("precision", "auto");
        var strategies = args.String("strategies", "speculative,autoregressive").Split(',')
            .Select(s => Enum.Parse<DecodeStrategy>(s, ignoreCase: true)).ToArray();
        int[] batchesSpeculative = Ints(args.String("batches-speculative", "1,8,64,256,1024"));
        int[] batchesPlain = Ints(args.String("batches-autoregressive", "1,8,64,256"));
        int repeats = args.Int("repeats", 5);
        int seed = args.Int("seed", 1);
        int? maxPasses = args.Optional("max-passes") is null ? null : args.Int("max-passes", 0);
        bool? reuseCache = args.String("reuse-cache", "auto") switch
        {
            "auto" => null, "yes" => true, "no" => false,
            var v => throw new CliUsageException($"--reuse-cache is auto, yes or no, not '{v}'"),
        };
        string? output = args.Optional("out");
        int agreement = args.Int("agreement", 0);
        args.EnsureAllUsed();

        var target = LifeGptPredictor.ResolveDevice(device);
        string deviceName = DeviceName(target);
        var (bandwidth, flops) = Ceilings(target);
        Console.Error.WriteLine($"bench: {deviceName}: device copy {bandwidth / 1e12:F2} TB/s (read + write), bf16 matmul {flops / 1e12:F0} TFLOP/s");

        var rows = new List<string>();
        string dtype = "";
        foreach (string modelPath in modelPaths)
        {
            using var predictor = LifeGptPredictor.Load(modelPath, device, maxBatch: int.MaxValue, Precision(precision));
            dtype = predictor.Info.DType;
            Console.Error.WriteLine($"bench: {predictor.Info.Path} on {predictor.Info.Device}, {predictor.Info.DType}");
            string checkpoint = Path.GetFileName(modelPath);
            foreach (var strategy in strategies)
            {
                foreach (int batch in strategy == DecodeStrategy.Speculative ? batchesSpeculative : batchesPlain)
                {
                    var options = DecodeOptions.Greedy with { Strategy = strategy, MaxPasses = maxPasses, ReuseCacheAcrossPasses = reuseCache };
                    var (boardsPerSecond, p50, p99, predictions, boards) = Measure(predictor, batch, options, repeats, seed);
                    int agree = predictions.Zip(boards).Count(p => p.First.Next.Equals(LifeRule.Step(p.Second)));   // the last run
                    double floor = strategy == DecodeStrategy.Autoregressive ? bandwidth / BytesPerBoardPlain : flops / FlopsPerBoardPass;
                    string passes = strategy == DecodeStrategy.Speculative
                        ? string.Create(CultureInfo.InvariantCulture, $"{predictions.Average(p => p.Passes ?? 0):F2} / {predictions.Max(p => p.Passes ?? 0)}") + (predictions.Sum(p => p.PlainCells ?? 0) is > 0 and var plain ? $" (+{plain} plain cells)" : "")
                        : "-";
                    string row = string.Create(CultureInfo.InvariantCulture,
                        $"| {checkpoint} | {strategy.ToString().ToLowerInvariant()} | {batch} | {boardsPerSecond:F1} | {p50 * 1000:F1} | {p99 * 1000:F1} | {GpuMemory(target)} | {boardsPerSecond / floor:P1} of {floor:F0} | {passes} | {agree}/{batch} |");
                    rows.Add(row);
                    Console.Error.WriteLine(row);
                }
            }
            if (agreement > 0) rows.Add(Agreement(predictor, checkpoint, agreement, seed));
        }

        var table = new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"Greedy decoding on {deviceName} ({dtype}), {DateTime.UtcNow:yyyy-MM-dd}, {repeats} timed runs after one warm-up, " +
                        $"verification passes: {(maxPasses is { } m ? $"at most {m}" : "rent-or-buy bound")}, cache across passes: {reuseCache?.ToString() ?? "device default"}; measured ceilings: copy {bandwidth / 1e12:F2} TB/s, bf16 matmul {flops / 1e12:F0} TFLOP/s")
            .AppendLine()
            .AppendLine("| checkpoint | strategy | batch | boards/s | p50 ms (batch) | p99 ms (batch) | device memory | of the floor (boards/s) | passes mean / max | = rule |")
            .AppendLine("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var row in rows) table.AppendLine(row);
        Console.WriteLine(table);
        if (output is not null) File.WriteAllText(output, table.ToString());
        return 0;
    }

    /// <summary>Times <paramref name="repeats"/> decodes of one batch after a warm-up; boards/s at the median.</summary>
    private static (double BoardsPerSecond, double P50, double P99, IReadOnlyList<Prediction> Last, Board[] Boards) Measure(
        LifeGptPredictor predictor, int batch, DecodeOptions options, int repeats, int seed)
    {
        var boards = Enumerable.Range(0, batch).Select(i => Board.Random(0.05 + 0.9 * ((i * 0.618) % 1), new Random(seed + i))).ToArray();
        var predictions = predictor.Predict(boards, options);                     // warm-up
        var seconds = new List<double>();
        for (int r = 0; r < repeats; r++)
        {
            var clock = Stopwatch.StartNew();
            predictions = predictor.Predict(boards, options);                     // returns host boards: synchronised
            seconds.Add(clock.Elapsed.TotalSeconds);
        }
        seconds.Sort();
        double p50 = seconds[seconds.Count / 2], p99 = seconds[(int)Math.Ceiling(0.99 * seconds.Count) - 1];
        return (batch / p50, p50, p99, predictions, boards);
    }

    /// <summary>--precision: auto (bf16 on CUDA, fp32 on the CPU), bf16 or fp32.</summary>
    internal static ScalarType? Precision(string precision) => precision switch
    {
        "auto" => null,
        "bf16" => ScalarType.BFloat16,
        "fp32" => ScalarType.Float32,
        _ => throw new CliUsageException("--precision is auto, bf16 or fp32"),
    };

    /// <summary>
    /// Speculative and plain greedy decoding agree exactly in exact arithmetic; in bf16 two different kernels can break a
    /// near-tie differently. This counts, on the same boards, how often they still agree (a row of the table).
    /// </summary>
    private static string Agreement(LifeGptPredictor predictor, string checkpoint, int count, int seed)
    {
        var boards = Enumerable.Range(0, count).Select(i => Board.Random((i % 19 + 1) / 20.0, new Random(seed * 1000 + i))).ToArray();
        var speculative = predictor.Predict(boards, DecodeOptions.Greedy);
        var plain = predictor.Predict(boards, DecodeOptions.Greedy with { Strategy = DecodeStrategy.Autoregressive });
        int same = speculative.Zip(plain).Count(p => p.First.Next.Equals(p.Second.Next));
        int cells = speculative.Zip(plain).Sum(p => p.First.Next.CountDifferences(p.Second.Next));
        string row = $"| {checkpoint} | speculative vs autoregressive | {count} | identical boards {same}/{count}, differing cells {cells}/{count * Board.Cells} | | | | | | |";
        Console.Error.WriteLine(row);
        return row;
    }

    /// <summary>The card's copy bandwidth (bytes read + written per second) and bf16 matmul rate, measured now.</summary>
    private static (double Bandwidth, double Flops) Ceilings(Device device)
    {
        using var _ = inference_mode();
        using var scope = NewDisposeScope();
        bool gpu = device.type == DeviceType.CUDA;
        long n = gpu ? 1L << 30 : 1L << 25;                      // 2 GiB of bf16 on a GPU, 64 MiB on a CPU
        var src = rand(n, ScalarType.Float32, device).to(ScalarType.BFloat16);
        var dst = empty_like(src);
        double copy = Time(() => dst.copy_(src), device, gpu ? 20 : 3);   // copy_ returns dst itself: not disposed
        int m = gpu ? 8192 : 1024;
        var a = randn(m, m, ScalarType.Float32, device).to(ScalarType.BFloat16);
        var b = randn(m, m, ScalarType.Float32, device).to(ScalarType.BFloat16);
        double mm = Time(() => a.mm(b).Dispose(), device, gpu ? 20 : 3);
        return (2.0 * n * 2 / copy, 2.0 * m * m * m / mm);
    }

    private static double Time(Action work, Device device, int times)
    {
        work();
        Synchronize(device);
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < times; i++) work();
        Synchronize(device);
        return clock.Elapsed.TotalSeconds / times;
    }

    private static void Synchronize(Device device)
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize(device);
    }

    private static string DeviceName(Device device) =>
        device.type == DeviceType.CUDA ? NvidiaSmi("name") ?? "CUDA GPU" : $"CPU x{Environment.ProcessorCount}";

    /// <summary>Memory in use on the card per nvidia-smi (PyTorch's caching allocator keeps the peak reserved).</summary>
    private static string GpuMemory(Device device) =>
        device.type == DeviceType.CUDA && NvidiaSmi("memory.used") is { } used ? used : "-";

    private static string? NvidiaSmi(string query)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo("nvidia-smi", $"--query-gpu={query} --format=csv,noheader") { RedirectStandardOutput = true });
            string text = process!.StandardOutput.ReadToEnd().Trim();
            process.WaitForExit();
            return text.Split('\n')[0];
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    private static int[] Ints(string list) => list.Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
}
