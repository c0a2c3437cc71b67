using System.Collections.Concurrent;
using Conway.Boards;
using Conway.Decoding;

namespace Conway.Api.Tests;

/// <summary>
/// TEST DOUBLE, not a model: "predicts" with the exact rule (or <paramref name="step"/>), records every
/// <see cref="Predict"/> call, and, given a <paramref name="gate"/>, blocks inside Predict until it is set.
/// </summary>
public sealed class RulePredictor(Func<Board, Board>? step = null, ManualResetEventSlim? gate = null) : IBoardPredictor
{
    public const string Sha256 = "c0ffee0123456789abcdef0123456789abcdef0123456789abcdef0123456789";

    public ModelInfo Info { get; } = new("rule-predictor-test-double", Sha256, 1234, "none", "cpu", TimeSpan.FromMilliseconds(5));

    /// <summary>Each call, recorded as it starts.</summary>
    public ConcurrentQueue<(IReadOnlyList<Board> Boards, DecodeOptions Options)> Calls { get; } = new();

    public IReadOnlyList<Prediction> Predict(IReadOnlyList<Board> boards, DecodeOptions options)
    {
        Calls.Enqueue((boards, options));
        gate?.Wait(TimeSpan.FromSeconds(30));
        return boards.Select(board =>
        {
            var next = (step ?? LifeRule.Step)(board);
            var pAlive = options.IncludeProbabilities
                ? Enumerable.Range(0, Board.Cells).Select(i => next[i / Board.Size, i % Board.Size] ? 0.75f : 0.25f).ToArray()
                : null;
            return new Prediction(next, pAlive);
        }).ToList();
    }

    public void Dispose() { }
}
