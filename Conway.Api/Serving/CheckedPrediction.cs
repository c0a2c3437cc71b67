using System.Numerics;
using Conway.Boards;
using Conway.Decoding;

namespace Conway.Api.Serving;

/// <summary>A board's prediction next to the exact rule's next state, and the cells where the two differ.</summary>
/// <param name="Prediction">The model's next state (with its probabilities and passes, when there are any).</param>
/// <param name="Rule">The next state by the exact rule.</param>
/// <param name="Mismatches">The cells where the prediction differs from the rule, row by row, each row by column.</param>
public sealed record CheckedPrediction(Prediction Prediction, Board Rule, IReadOnlyList<(int Row, int Column)> Mismatches)
{
    public bool MatchesRule => Mismatches.Count == 0;

    /// <summary>Steps <paramref name="input"/> by the rule and compares <paramref name="prediction"/> with that, cell by cell.</summary>
    public static CheckedPrediction Of(Board input, Prediction prediction) => Against(LifeRule.Step(input), prediction);

    /// <summary>Compares <paramref name="prediction"/> with <paramref name="rule"/>, the rule's board, cell by cell.</summary>
    public static CheckedPrediction Against(Board rule, Prediction prediction)
    {
        var mismatches = new List<(int Row, int Column)>();
        uint[] predicted = prediction.Next.ToWords(), exact = rule.ToWords();
        for (int r = 0; r < Board.Size; r++)
            for (uint differ = predicted[r] ^ exact[r]; differ != 0; differ &= differ - 1)   // bit c = column c, in order
                mismatches.Add((r, BitOperations.TrailingZeroCount(differ)));
        return new CheckedPrediction(prediction, rule, mismatches);
    }
}
