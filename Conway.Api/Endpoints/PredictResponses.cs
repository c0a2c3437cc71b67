using Conway.Api.Contracts;
using Conway.Api.Serving;
using Conway.Boards;
using Conway.Decoding;

namespace Conway.Api.Endpoints;

/// <summary>The prediction endpoints' answers, made from the <see cref="PredictionService"/>'s checked predictions.</summary>
internal static class PredictResponses
{
    public static PredictResponse Single(CheckedPrediction check, DecodeStrategy strategy, PredictionResult result) =>
        new(check.Prediction.Next.ToRows(), check.Rule.ToRows(), check.MatchesRule, check.Mismatches.Count,
            Cells(check), strategy, result.Model, ModelVersion.Of(result.Info), Math.Round(result.Total.TotalMilliseconds, 3))
        {
            PAlive = PAlive(check),
            Passes = check.Prediction.Passes,
        };

    public static PredictBatchResponse Batch(DecodeStrategy strategy, PredictionResult result)
    {
        var results = result.Boards.Select(check => Single(check, strategy, result)).ToList();
        return new PredictBatchResponse(results, results.Count, results.Count(result => result.MatchesRule));
    }

    /// <summary>The [row, column] of each cell where the prediction differs from the rule.</summary>
    public static int[][] Cells(CheckedPrediction check) => [.. check.Mismatches.Select(cell => new[] { cell.Row, cell.Column })];

    /// <summary>Per cell, the model's probability that it is alive, as 32 rows; null when not asked for.</summary>
    public static float[][]? PAlive(CheckedPrediction check) => check.Prediction.PAlive?.Chunk(Board.Size).ToArray();
}
