using System.ComponentModel.DataAnnotations;
using Conway.Api.Serving;
using Conway.Boards;
using Conway.Decoding;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Validation;

namespace Conway.Api.Contracts;

/// <summary>Decoding settings shared by <c>/predict</c>, <c>/predict/batch</c> and <c>/rollout</c>.</summary>
public abstract record DecodeRequest
{
    /// <summary>The name of the model to use (<c>GET /models</c> lists them); default: the default model.</summary>
    [KnownModel]
    public string? Model { get; init; }

    /// <summary>speculative (default) or autoregressive; both give the same output when greedy.</summary>
    public DecodeStrategy Strategy { get; init; } = DecodeStrategy.Speculative;

    public const float MaxTemperature = 2f;
    public const int MaxTopK = 256;

    /// <summary>Sampling temperature, 0 to 2; 0 (default) is greedy.</summary>
    [Within(0, MaxTemperature)]
    public float Temperature { get; init; }

    /// <summary>Sample among the k most likely tokens, 1 to 256 (default 26).</summary>
    [Within(1, MaxTopK)]
    public int TopK { get; init; } = DecodeOptions.ReferenceTopK;

    /// <summary>Makes sampling reproducible.</summary>
    public long? Seed { get; init; }

    /// <summary>Also return each cell's probability of being alive.</summary>
    public bool Probabilities { get; init; }

    /// <summary>
    /// Give up (504) when there is no answer within this many milliseconds of arrival; capped at, and by default,
    /// Model:MaxDeadlineMs (for <c>/rollout</c>: the end of the whole rollout, Model:MaxRolloutDeadlineMs). The header
    /// <c>X-Deadline-Ms</c> does the same; with both, the earlier deadline holds.
    /// </summary>
    [Within(1, int.MaxValue, ErrorMessage = "Must be at least {1} (milliseconds); got {3}.")]
    public int? DeadlineMs { get; init; }
}

/// <summary>One board, given as exactly one of <c>board</c>, <c>rle</c> or <c>cells</c>, and how to decode it.</summary>
public abstract record OneBoardRequest : DecodeRequest, IValidatableObject
{
    /// <summary>32 rows of 32 characters, '0' (dead) or '1' (alive).</summary>
    public IReadOnlyList<string?>? Board { get; init; }

    /// <summary>A pattern in RLE, placed on the 32x32 torus.</summary>
    public string? Rle { get; init; }

    /// <summary>A pattern in plaintext (.cells), placed on the 32x32 torus.</summary>
    public string? Cells { get; init; }

    public virtual IEnumerable<ValidationResult> Validate(ValidationContext validationContext) => BoardForms.Validate(Board, Rle, Cells);
}

/// <summary>One board, given as exactly one of <c>board</c>, <c>rle</c> or <c>cells</c>.</summary>
[ValidatableType]
public sealed record PredictRequest : OneBoardRequest;

/// <summary>Several boards, predicted together in one model batch.</summary>
[ValidatableType]
public sealed record PredictBatchRequest : DecodeRequest, IValidatableObject
{
    /// <summary>The boards, 1 to Model:MaxBoardsPerRequest of them, each 32 rows of 32 characters '0' or '1'.</summary>
    public IReadOnlyList<IReadOnlyList<string?>?>? Boards { get; init; }

    /// <summary>1 to Model:MaxBoardsPerRequest boards (of the options the service runs with), each of which parses.</summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        int maxBoards = validationContext.GetRequiredService<IOptions<ModelOptions>>().Value.MaxBoardsPerRequest;
        if (Boards is not { Count: > 0 } given || given.Count > maxBoards)
        {
            yield return new ValidationResult($"Give 1 to {maxBoards} boards; got {Boards?.Count ?? 0}.", ["boards"]);
            yield break;
        }
        for (int i = 0; i < given.Count; i++)
            if (BoardForms.Problem(() => Conway.Boards.Board.FromRows(given[i])) is { } problem)
                yield return new ValidationResult(problem, [$"boards[{i}]"]);
    }
}
