using Conway.Decoding;

namespace Conway.Api.Serving;

/// <summary>
/// The service's live estimate of what the model costs: seconds of one device per board, for each strategy, over its
/// last <see cref="Window"/> model calls (their time over their boards, so a big batch counts for more than a small
/// one), the warm-up included until newer calls push it out. Admission prices a request with it (the work queued
/// ahead over the devices, plus its own), so a request that cannot meet its deadline is refused at once with an honest
/// Retry-After instead of being admitted to die. Until a strategy has run it is priced from the other: plain decoding
/// costs about 20 speculative passes of a trained model (17 against 0.9 s a board on the 2-core CPU,
/// docs/PERFORMANCE.md); before anything ran, a board is priced at a second. Thread-safe.
/// </summary>
public sealed class ThroughputEstimate
{
    public const int Window = 8;
    private const double AutoregressivePerSpeculative = 20;
    private readonly Lock _lock = new();
    private readonly Queue<(int Boards, double Seconds)> _speculative = new(), _autoregressive = new();

    /// <summary>Seconds of one device per board with <paramref name="strategy"/>.</summary>
    public double SecondsPerBoard(DecodeStrategy strategy)
    {
        lock (_lock)
        {
            double? speculative = PerBoard(_speculative), autoregressive = PerBoard(_autoregressive);
            return strategy == DecodeStrategy.Autoregressive
                ? autoregressive ?? (speculative ?? 1.0) * AutoregressivePerSpeculative
                : speculative ?? (autoregressive / AutoregressivePerSpeculative) ?? 1.0;
        }
    }

    /// <summary>Learns from a model call: <paramref name="boards"/> boards decoded with <paramref name="strategy"/> in <paramref name="elapsed"/>.</summary>
    public void Record(DecodeStrategy strategy, int boards, TimeSpan elapsed)
    {
        if (boards <= 0) return;
        lock (_lock)
        {
            var calls = strategy == DecodeStrategy.Autoregressive ? _autoregressive : _speculative;
            calls.Enqueue((boards, elapsed.TotalSeconds));
            if (calls.Count > Window) calls.Dequeue();
        }
    }

    private static double? PerBoard(Queue<(int Boards, double Seconds)> calls) =>
        calls.Count == 0 ? null : calls.Sum(call => call.Seconds) / calls.Sum(call => call.Boards);
}
