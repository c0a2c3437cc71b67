using Conway.Decoding;

namespace Conway.Api.Serving;

/// <summary>
/// The service's live estimate of what the model costs: seconds of one device per board, for each strategy, learned
/// from every batch it runs (an exponentially weighted mean, each batch weighing a fifth) and seeded by the warm-up.
/// Admission prices a request with it (queued work ahead / devices + its own), so a request that cannot meet its
/// deadline is refused at once with an honest Retry-After instead of being admitted to die. Until a strategy has run,
/// it is priced from the other: plain decoding costs about 20 passes of speculative decoding on a trained model (17
/// against 0.9 s a board on the 2-core CPU, docs/PERFORMANCE.md), and a CPU board costs 1 s before anything ran.
/// Thread-safe.
/// </summary>
public sealed class ThroughputEstimate
{
    private const double Weight = 0.2;
    private const double AutoregressivePerSpeculative = 20;
    private readonly Lock _lock = new();
    private double _speculative = 1.0, _autoregressive;
    private bool _measuredSpeculative, _measuredAutoregressive;

    /// <summary>Seconds of one device per board with <paramref name="strategy"/>.</summary>
    public double SecondsPerBoard(DecodeStrategy strategy)
    {
        lock (_lock)
        {
            return strategy == DecodeStrategy.Autoregressive
                ? _measuredAutoregressive ? _autoregressive : _speculative * AutoregressivePerSpeculative
                : _measuredSpeculative || !_measuredAutoregressive ? _speculative : _autoregressive / AutoregressivePerSpeculative;
        }
    }

    /// <summary>What <paramref name="boards"/> boards cost one device.</summary>
    public TimeSpan Cost(DecodeStrategy strategy, int boards) => TimeSpan.FromSeconds(boards * SecondsPerBoard(strategy));

    /// <summary>Learns from a model call: <paramref name="boards"/> boards decoded with <paramref name="strategy"/> in <paramref name="elapsed"/>.</summary>
    public void Record(DecodeStrategy strategy, int boards, TimeSpan elapsed)
    {
        if (boards <= 0) return;
        double perBoard = elapsed.TotalSeconds / boards;
        lock (_lock)
        {
            if (strategy == DecodeStrategy.Autoregressive)
            {
                _autoregressive = _measuredAutoregressive ? _autoregressive + Weight * (perBoard - _autoregressive) : perBoard;
                _measuredAutoregressive = true;
            }
            else
            {
                _speculative = _measuredSpeculative ? _speculative + Weight * (perBoard - _speculative) : perBoard;
                _measuredSpeculative = true;
            }
        }
    }
}
