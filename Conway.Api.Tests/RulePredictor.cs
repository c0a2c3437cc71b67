using System.Collections.Concurrent;
using Conway.Api.Serving;
using Conway.Boards;
using Conway.Decoding;

namespace Conway.Api.Tests;

/// <summary>
/// TEST DOUBLE, not a model: "predicts" with the exact rule (or <see cref="Step"/>) and records every
/// <see cref="Predict"/> call. Each call first throws what <see cref="Fault"/> returns, then blocks while
/// <see cref="Gate"/> is unset, then takes <see cref="Delay"/> per board, checking its token between boards (its
/// "decode steps"). Set the behaviours after the service is ready (<see cref="ApiFactory.StartAsync"/>), so that the
/// startup self-test sees the plain rule.
/// </summary>
public sealed class RulePredictor : IBoardPredictor
{
    public const string Sha256 = "c0ffee0123456789abcdef0123456789abcdef0123456789abcdef0123456789";

    public ModelInfo Info { get; init; } = new("rule-predictor-test-double", Sha256, 1234, "none", "cpu", TimeSpan.FromMilliseconds(5), "no kernels (a test double)");

    public Func<Board, Board> Step { get; set; } = LifeRule.Step;

    public Func<IReadOnlyList<Board>, Exception?> Fault { get; set; } = _ => null;

    public ManualResetEventSlim? Gate { get; set; }

    public TimeSpan Delay { get; set; }

    /// <summary>Each call, recorded as it starts, with the device thread it ran on.</summary>
    public ConcurrentQueue<(IReadOnlyList<Board> Boards, DecodeOptions Options, int Thread)> Calls { get; } = new();

    /// <summary>Boards whose prediction was stopped by the token before it was made.</summary>
    public int Cancelled => _cancelled;

    private int _cancelled;

    public IReadOnlyList<Prediction> Predict(IReadOnlyList<Board> boards, DecodeOptions options, CancellationToken cancellation)
    {
        Calls.Enqueue((boards, options, Environment.CurrentManagedThreadId));
        if (Fault(boards) is { } fault) throw fault;
        Gate?.Wait(TimeSpan.FromSeconds(30));
        var predictions = new List<Prediction>();
        foreach (var board in boards)
        {
            if (cancellation.IsCancellationRequested)
            {
                Interlocked.Add(ref _cancelled, boards.Count - predictions.Count);
                cancellation.ThrowIfCancellationRequested();
            }
            if (Delay > TimeSpan.Zero) Thread.Sleep(Delay);
            var next = Step(board);
            var pAlive = options.IncludeProbabilities
                ? Enumerable.Range(0, Board.Cells).Select(i => next[i / Board.Size, i % Board.Size] ? 0.75f : 0.25f).ToArray()
                : null;
            predictions.Add(new Prediction(next, pAlive));
        }
        return predictions;
    }

    public void Dispose() { }
}
