using Conway.Api.Contracts;
using Conway.Boards;
using Conway.Decoding;

namespace Conway.Api.Endpoints;

/// <summary>
/// A validated request: the boards to predict, the model (as the request named it, or null for the default), how to
/// decode them, and the deadline the body asked for.
/// </summary>
internal sealed record PredictionInput(IReadOnlyList<Board> Boards, string? Model, DecodeOptions Options, int? DeadlineMs)
{
    /// <summary>The request's board (a prediction's, or a rollout's start); null when <paramref name="errors"/> (the request's headers') has entries.</summary>
    public static PredictionInput? From(OneBoardRequest request, Dictionary<string, string[]> errors) =>
        errors.Count == 0 ? new([BoardForms.Read(request.Board, request.Rle, request.Cells)], request.Model, ToDecodeOptions(request), request.DeadlineMs) : null;

    /// <summary>The request's boards; null when <paramref name="errors"/> (the request's headers') has entries.</summary>
    public static PredictionInput? From(PredictBatchRequest request, Dictionary<string, string[]> errors) =>
        errors.Count == 0 ? new([.. request.Boards!.Select(Board.FromRows)], request.Model, ToDecodeOptions(request), request.DeadlineMs) : null;

    private static DecodeOptions ToDecodeOptions(DecodeRequest request) => new()
    {
        Strategy = request.Strategy,
        Temperature = request.Temperature,
        TopK = request.TopK,
        Seed = request.Seed,
        IncludeProbabilities = request.Probabilities,
    };
}
