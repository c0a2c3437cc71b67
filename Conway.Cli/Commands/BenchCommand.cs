using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Conway.Boards;
using Conway.Cli.CommandLine;
using Conway.Cli.Progress;
using Conway.Codec;
using Conway.Decoding;
using Conway.Kernels;
using Conway.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Conway.Cli.Commands;

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

    private sealed record Settings(
        string[] Models, string Device, string Precision, string[] Kernels, DecodeStrategy[] Strategies, int[] BatchesSpeculative, int[] BatchesPlain,
        int Repeats, int Seed, int? MaxPasses, bool? ReuseCache, string? Out, int Agreement, bool[] CudaGraphs, float[] FlipMargins);

    public static Command Create()
    {
        var models = CliOptions.Text("--model", DecodingChoices.DefaultModel, "checkpoints to time, comma-separated (a table row per checkpoint, strategy and batch)", "FILE[,FILE...]");
        var device = CliOptions.Device();
        var precision = DecodingChoices.Precision();
        var kernels = CliOptions.ChoiceList("--kernels", "auto", "kernels to time, comma-separated (a table row per checkpoint, kernels, strategy and batch): auto, fused or libtorch", [.. KernelChoice.Modes]);
        var strategies = CliOptions.ChoiceList("--strategies", "speculative,autoregressive", "decoding strategies to time, comma-separated", DecodingChoices.Strategies);
        var batchesSpeculative = CliOptions.WholeList("--batches-speculative", "1,8,64,256,1024", "batch sizes for speculative decoding");
        var batchesPlain = CliOptions.WholeList("--batches-autoregressive", "1,8,64,256", "batch sizes for autoregressive decoding");
        var repeats = CliOptions.Whole("--repeats", 5, "timed runs per row, after one warm-up (the median gives boards/s)", min: 1);
        var seed = CliOptions.Whole("--seed", 1, "seed of the boards", min: int.MinValue);
        var maxPasses = CliOptions.Whole("--max-passes", 0, "speculative decoding: a hard bound on verification passes, then the unfinished boards continue plainly (0: none, the rent-or-buy bound alone)");
        var reuseCache = CliOptions.Choice("--reuse-cache", "auto", "speculative decoding: later passes re-score from the earliest re-drafted cell over a KV cache (yes) or the whole sequence (no); auto: yes on the CPU, no on CUDA", ["auto", "yes", "no"]);
        var output = CliOptions.Text("--out", null, "also write the table to this file [default: none, stdout only]", "FILE");
        var agreement = CliOptions.Whole("--agreement", 0, "a row per checkpoint: on this many boards, how often speculative and autoregressive decoding agree (0: no row)");
        var flipMargins = CliOptions.NumberList("--flip-margins", FormattableString.Invariant($"{DecodeOptions.DefaultFlipMargin}"), "speculative decoding: when a pass re-drafts a board, the logit margin under which a choice whose left neighbour changed to the other state is drafted as that state, comma-separated for a row each (0: the pass's choices as they are)");
        var graphs = CliOptions.ChoiceList("--graphs", "yes", $"on the fused kernels, plain decoding of up to {GreedySteps.MaxBatch} boards and speculative of up to {FusedKernels.MaxCapturedPassBatch}: each step or pass a replay of a captured CUDA graph (yes), call by call (no), or both (yes,no: a row each)", ["yes", "no"]);

        var command = new Command("bench", "time greedy decoding (strategy x batch) against the floors of the card it runs on")
        {
            models, device, precision, kernels, strategies, batchesSpeculative, batchesPlain, repeats, seed, maxPasses, reuseCache, output, agreement, graphs, flipMargins,
        };
        command.SetAction(parsed => Run(new Settings(
            parsed.GetRequiredValue(models).Split(','), parsed.GetRequiredValue(device), parsed.GetRequiredValue(precision),
            CliOptions.Choices(parsed.GetRequiredValue(kernels), [.. KernelChoice.Modes])!,
            CliOptions.Choices(parsed.GetRequiredValue(strategies), DecodingChoices.Strategies)!.Select(DecodingChoices.Strategy).ToArray(),
            CliOptions.Wholes(parsed.GetRequiredValue(batchesSpeculative))!, CliOptions.Wholes(parsed.GetRequiredValue(batchesPlain))!,
            parsed.GetValue(repeats), parsed.GetValue(seed), parsed.GetValue(maxPasses) is > 0 and var m ? m : null,
            parsed.GetRequiredValue(reuseCache) switch { "yes" => true, "no" => false, _ => null }, parsed.GetValue(output), parsed.GetValue(agreement),
            CliOptions.Choices(parsed.GetRequiredValue(graphs), ["yes", "no"])!.Select(c => c == "yes").ToArray(),
            CliOptions.Numbers(parsed.GetRequiredValue(flipMargins))!.Select(m => (float)m).ToArray()),
            parsed.InvocationConfiguration.Output, parsed.InvocationConfiguration.Error));
        return command;
    }

    private static int Run(Settings s, TextWriter output, TextWriter error)
    {
        string[] modelPaths = s.Models.Select(DecodingChoices.RequireModel).ToArray();
        var target = Devices.Check(s.Device);
        string deviceName = DeviceName(target);
        var (bandwidth, flops) = Ceilings(target);
        error.WriteLine($"bench: {deviceName}: device copy {bandwidth / 1e12:F2} TB/s (read + write), bf16 matmul {flops / 1e12:F0} TFLOP/s");

        var rows = new List<string>();
        string dtype = "";
        int rowsPerModel = s.Strategies.Sum(st => st == DecodeStrategy.Speculative ? s.BatchesSpeculative.Length * s.FlipMargins.Length : s.BatchesPlain.Length) + (s.Agreement > 0 ? s.FlipMargins.Length : 0);
        int total = rowsPerModel * modelPaths.Length * s.Kernels.Length;
        using (var progress = new ProgressDisplay(error, ProgressDisplay.StderrIsTerminal, "bench"))
        {
            foreach (var (modelPath, kernelMode) in modelPaths.SelectMany(m => s.Kernels.Select(k => (m, k))))
            {
                using var predictor = LifeGptPredictor.Load(modelPath, s.Device, maxBatch: int.MaxValue, s.Precision, kernelMode);
                dtype = predictor.Info.DType;
                progress.Line($"bench: {predictor.Info.Path} on {predictor.Info.Device}, {predictor.Info.DType}, {predictor.Info.Kernels}");
                string checkpoint = Path.GetFileName(modelPath);
                string kernelsUsed = predictor.Model.Kernels.Name;
                foreach (var strategy in s.Strategies)
                {
                    // captured: null where DecodeOptions.CudaGraphs decides nothing (libtorch's kernels, larger batches)
                    var runs = (strategy == DecodeStrategy.Speculative ? s.BatchesSpeculative : s.BatchesPlain)
                        .SelectMany(batch => Captures(strategy, batch, predictor.Model.Kernels)
                            ? s.CudaGraphs.Select(c => (batch, Captured: (bool?)c))
                            : [(batch, Captured: (bool?)null)])
                        .SelectMany(run => (strategy == DecodeStrategy.Speculative ? s.FlipMargins : [DecodeOptions.DefaultFlipMargin])
                            .Select(flipMargin => (run.batch, run.Captured, FlipMargin: flipMargin)));
                    foreach (var (batch, captured, flipMargin) in runs)
                    {
                        string strategyColumn = strategy == DecodeStrategy.Speculative ? SpeculativeColumn(flipMargin, s.FlipMargins) : "autoregressive";
                        progress.Update("rows", rows.Count, total, $"now {checkpoint}, {strategyColumn}, batch {batch}");
                        var options = DecodeOptions.Greedy with
                        {
                            Strategy = strategy, MaxPasses = s.MaxPasses, ReuseCacheAcrossPasses = s.ReuseCache, CudaGraphs = captured ?? true, FlipMargin = flipMargin,
                        };
                        string kernelsColumn = captured switch { null => kernelsUsed, true => $"{kernelsUsed}, CUDA graphs", false => $"{kernelsUsed}, call by call" };
                        var (boardsPerSecond, p50, slowest, predictions, boards) = Measure(predictor, batch, options, s.Repeats, s.Seed);
                        int agree = predictions.Zip(boards).Count(p => p.First.Next.Equals(LifeRule.Step(p.Second)));   // the last run
                        double floor = strategy == DecodeStrategy.Autoregressive ? bandwidth / BytesPerBoardPlain : flops / FlopsPerBoardPass;
                        string passes = strategy == DecodeStrategy.Speculative
                            ? string.Create(CultureInfo.InvariantCulture, $"{predictions.Average(p => p.Passes ?? 0):F2} / {predictions.Max(p => p.Passes ?? 0)}") + (predictions.Sum(p => p.PlainCells ?? 0) is > 0 and var plain ? $" (+{plain} plain cells)" : "")
                            : "-";
                        string row = string.Create(CultureInfo.InvariantCulture,
                            $"| {checkpoint} | {kernelsColumn} | {strategyColumn} | {batch} | {boardsPerSecond:F1} | {p50 * 1000:F1} | {slowest * 1000:F1} | {GpuMemory(target)} | {boardsPerSecond / floor:P1} of {floor:F0} | {passes} | {agree}/{batch} |");
                        rows.Add(row);
                        progress.Line(row);
                    }
                }
                if (s.Agreement > 0)
                {
                    progress.Update("rows", rows.Count, total, $"now {checkpoint}, agreement on {s.Agreement} boards");
                    foreach (var row in Agreement(predictor, $"{checkpoint} | {kernelsUsed}", s.Agreement, s.Seed, s.FlipMargins))
                    {
                        rows.Add(row);
                        progress.Line(row);
                    }
                }
            }
            progress.Update("rows", rows.Count, total, "");
        }

        var table = new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"Greedy decoding on {deviceName} ({dtype}), {DateTime.UtcNow:yyyy-MM-dd}, {s.Repeats} timed runs after one warm-up, " +
                        $"verification passes: {(s.MaxPasses is { } m ? $"at most {m}" : "rent-or-buy bound")}, cache across passes: {s.ReuseCache switch { true => "yes", false => "no", null => "device default" }}; measured ceilings: copy {bandwidth / 1e12:F2} TB/s, bf16 matmul {flops / 1e12:F0} TFLOP/s")
            .AppendLine()
            .AppendLine("| checkpoint | kernels | strategy | batch | boards/s | p50 ms (batch) | slowest ms (batch) | device memory | of the floor (boards/s) | passes mean / max | = rule |")
            .AppendLine("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var row in rows) table.AppendLine(row);
        output.WriteLine(table);
        if (s.Out is not null) File.WriteAllText(s.Out, table.ToString());
        return 0;
    }

    /// <summary>Whether <see cref="DecodeOptions.CudaGraphs"/> decides how this row decodes.</summary>
    private static bool Captures(DecodeStrategy strategy, int batch, KernelChoice kernels) => strategy == DecodeStrategy.Autoregressive
        ? kernels.Kernels is not null && batch <= GreedySteps.MaxBatch
        : kernels.Kernels?.CapturesPasses(batch) == true;

    /// <summary>Times <paramref name="repeats"/> decodes of one batch after a warm-up; boards/s at the median.</summary>
    private static (double BoardsPerSecond, double P50, double Slowest, IReadOnlyList<Prediction> Last, Board[] Boards) Measure(
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
        double p50 = seconds[seconds.Count / 2];
        return (batch / p50, p50, seconds[^1], predictions, boards);   // a handful of runs: their slowest, not a percentile
    }

    /// <summary>
    /// Speculative and plain greedy decoding agree exactly in exact arithmetic; in bf16 two different kernels can break a
    /// near-tie differently, and the cells after it then follow from a different prefix. This counts, on the same boards,
    /// how often they still agree (a row of the table per flip margin), and at each differing board's first differing
    /// cell, where the two prefixes are still the same, the range of P(alive) under a plain decode that also returns
    /// probabilities.
    /// </summary>
    private static IEnumerable<string> Agreement(LifeGptPredictor predictor, string checkpoint, int count, int seed, float[] flipMargins)
    {
        var boards = Enumerable.Range(0, count).Select(i => Board.Random((i % 19 + 1) / 20.0, new Random(seed * 1000 + i))).ToArray();
        var plainOptions = DecodeOptions.Greedy with { Strategy = DecodeStrategy.Autoregressive };
        var plain = predictor.Predict(boards, plainOptions);
        IReadOnlyList<Prediction>? withProbabilities = null;
        foreach (float flipMargin in flipMargins)
        {
            var speculative = predictor.Predict(boards, DecodeOptions.Greedy with { FlipMargin = flipMargin });
            int cells = speculative.Zip(plain).Sum(p => p.First.Next.CountDifferences(p.Second.Next));
            var firstDiffering = speculative.Zip(plain)   // per board, its cells' common prefix: Board.Cells where they agree
                .Select((p, b) => (b, Cell: p.First.Next.ToCells().AsSpan().CommonPrefixLength(p.Second.Next.ToCells())))
                .Where(d => d.Cell < Board.Cells).ToArray();
            int same = count - firstDiffering.Length;
            string where = "";
            if (firstDiffering.Length > 0)
            {
                withProbabilities ??= predictor.Predict(boards, plainOptions with { IncludeProbabilities = true });
                var pAlive = firstDiffering.Select(d => withProbabilities[d.b].PAlive![d.Cell]).ToArray();
                where = string.Create(CultureInfo.InvariantCulture, $" (P(alive) {pAlive.Min():F4}-{pAlive.Max():F4} at each board's first)");
            }
            yield return $"| {checkpoint} | {SpeculativeColumn(flipMargin, flipMargins)} vs autoregressive | {count} | identical boards {same}/{count}, differing cells {cells}/{count * Board.Cells}{where} | | | | | | |";
        }
    }

    /// <summary>The strategy column of a speculative row: its flip margin where the run times more than the default.</summary>
    private static string SpeculativeColumn(float flipMargin, float[] flipMargins) => "speculative"
        + (flipMargins is [DecodeOptions.DefaultFlipMargin] ? "" : FormattableString.Invariant($", flip margin {flipMargin}"));

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
}
