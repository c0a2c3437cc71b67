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
            [.. check.Mismatches.Select(cell => new[] { cell.Row, cell.Column })], strategy, result.Model, ModelVersion.Of(result.Info),
            Math.Round(result.Total.TotalMilliseconds, 3))
        {
            PAlive = check.Prediction.PAlive?.Chunk(Board.Size).ToArray(),
            Passes = check.Prediction.Passes,
        };

    public static PredictBatchResponse Batch(DecodeStrategy strategy, PredictionResult result)
    {
        var results = result.Boards.Select(check => Single(check, strategy, result)).ToList();
        return new PredictBatchResponse(results, results.Count, results.Count(result => result.MatchesRule));
    }
}
