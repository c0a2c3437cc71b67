using Conway.Boards;
using Conway.Decoding;

namespace Conway.Api.Serving;

/// <summary>
/// The startup check that each device's model reproduces the exact rule on known patterns
/// (<see cref="Patterns.Named"/>, greedy decoding). It is also the warm-up: the first predict on a device is slow.
/// </summary>
internal static class SelfTest
{
    /// <summary>
    /// The names of the patterns whose predicted next state differs from <see cref="LifeRule.Step(Board)"/>; throws
    /// <see cref="OperationCanceledException"/> when <paramref name="cancellation"/> (shutdown) stops it.
    /// </summary>
    public static IReadOnlyList<string> Failures(IBoardPredictor predictor, IReadOnlyList<string> names, CancellationToken cancellation)
    {
        var boards = names.Select(name => Patterns.Named[name]).ToList();
        var predictions = predictor.Predict(boards, DecodeOptions.Greedy, cancellation);
        return [.. names.Where((_, i) => !predictions[i].Next.Equals(LifeRule.Step(boards[i])))];
    }
}
