using System.Text.Json.Serialization;
using Conway.Decoding;

namespace Conway.Api.Contracts;

/// <summary>The model's next state for one board, checked against the exact rule.</summary>
/// <param name="Next">The predicted next state, 32 rows of '0'/'1'.</param>
/// <param name="Rule">The next state by the exact rule.</param>
/// <param name="MatchesRule">Whether the prediction equals the rule's next state.</param>
/// <param name="MismatchedCells">How many cells differ from the rule.</param>
/// <param name="Mismatches">The [row, column] of each differing cell.</param>
/// <param name="Strategy">The decoding strategy used.</param>
/// <param name="Model">The name of the model that answered.</param>
/// <param name="ModelVersion">Its checkpoint's SHA-256, first 12 hex digits.</param>
/// <param name="ElapsedMs">Time spent serving the request, queueing included.</param>
public sealed record PredictResponse(
    IReadOnlyList<string> Next,
    IReadOnlyList<string> Rule,
    bool MatchesRule,
    int MismatchedCells,
    IReadOnlyList<int[]> Mismatches,
    DecodeStrategy Strategy,
    string Model,
    string ModelVersion,
    double ElapsedMs)
{
    /// <summary>Per cell, the model's probability that it is alive (32 rows of 32); only when asked for.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<float[]>? PAlive { get; init; }

    /// <summary>
    /// Speculative decoding: the verification passes this board took (1 when the model accepts the rule's draft whole;
    /// many for a checkpoint that often disagrees with the rule, which is why it is slow). Absent for autoregressive.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? Passes { get; init; }
}

/// <summary>One result per board, in request order.</summary>
/// <param name="Results">The per-board results.</param>
/// <param name="Boards">How many boards were predicted.</param>
/// <param name="MatchingRule">How many predictions equal the rule's next state.</param>
public sealed record PredictBatchResponse(IReadOnlyList<PredictResponse> Results, int Boards, int MatchingRule);
