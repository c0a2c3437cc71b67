using Conway.Decoding;

namespace Conway.Api.Serving;

/// <summary>
/// The service's live estimate of what a model costs, per device, model and strategy: a device's seconds per board over
/// its last <see cref="Window"/> calls of that model and strategy (their time over their boards, so a big batch counts for
/// more than a small one), the warm-up included until newer calls push it out. Admission prices a request with it
/// (the work queued ahead over the devices, plus its own), so a request that cannot meet its deadline is refused at
/// once with an honest Retry-After instead of being admitted to die. Until a device has run a strategy it is priced
/// from the other: plain decoding costs about 20 speculative passes of a trained model, between what was measured on the
/// 2-core CPU (10-14x for one board: 8.6 against 0.82 s, 9.8 against 0.71 s) and batched on an H200 (about 30x: 90.6
/// against 2,779 boards/s at batch 1,024; docs/PERFORMANCE.md); before anything ran, a board is priced at a second.
/// Thread-safe.
/// </summary>
public sealed class ThroughputEstimate
{
    public const int Window = 8;
    private const double AutoregressivePerSpeculative = 20;
    private readonly Lock _lock = new();
    private readonly Dictionary<(string Device, string Model), Calls> _calls = [];

    /// <summary>
    /// Seconds per board of the typical device with <paramref name="model"/> and <paramref name="strategy"/>: the
    /// devices' harmonic mean, so that the work over the number of devices is the time they take together, whatever
    /// their speeds.
    /// </summary>
    public double SecondsPerBoard(string model, DecodeStrategy strategy)
    {
        lock (_lock)
        {
            var perDevice = _calls.Where(calls => string.Equals(calls.Key.Model, model, StringComparison.OrdinalIgnoreCase))
                .Select(calls => calls.Value.SecondsPerBoard(strategy)).ToList();
            return perDevice.Count == 0 ? Calls.Unmeasured(strategy) : perDevice.Count / perDevice.Sum(seconds => 1 / seconds);
        }
    }

    /// <summary>
    /// Learns from a model call: <paramref name="boards"/> boards decoded by <paramref name="model"/> on
    /// <paramref name="device"/> with <paramref name="strategy"/> in <paramref name="elapsed"/>.
    /// </summary>
    public void Record(string device, string model, DecodeStrategy strategy, int boards, TimeSpan elapsed)
    {
        if (boards <= 0) return;
        lock (_lock)
        {
            if (!_calls.TryGetValue((device, model), out var calls)) _calls[(device, model)] = calls = new Calls();
            calls.Add(strategy, boards, elapsed.TotalSeconds);
        }
    }

    /// <summary>One device's last calls of each strategy.</summary>
    private sealed class Calls
    {
        private readonly Queue<(int Boards, double Seconds)> _speculative = new(), _autoregressive = new();

        public static double Unmeasured(DecodeStrategy strategy) => strategy == DecodeStrategy.Autoregressive ? AutoregressivePerSpeculative : 1.0;

        public void Add(DecodeStrategy strategy, int boards, double seconds)
        {
            var calls = strategy == DecodeStrategy.Autoregressive ? _autoregressive : _speculative;
            calls.Enqueue((boards, seconds));
            if (calls.Count > Window) calls.Dequeue();
        }

        public double SecondsPerBoard(DecodeStrategy strategy)
        {
            double? speculative = PerBoard(_speculative), autoregressive = PerBoard(_autoregressive);
            return strategy == DecodeStrategy.Autoregressive
                ? autoregressive ?? speculative!.Value * AutoregressivePerSpeculative
                : speculative ?? autoregressive!.Value / AutoregressivePerSpeculative;
        }

        private static double? PerBoard(Queue<(int Boards, double Seconds)> calls) =>
            calls.Count == 0 ? null : Math.Max(1e-6, calls.Sum(call => call.Seconds) / calls.Sum(call => call.Boards));
    }
}
