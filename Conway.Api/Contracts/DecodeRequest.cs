using Conway.Decoding;

namespace Conway.Api.Contracts;

/// <summary>Decoding settings shared by <c>/predict</c> and <c>/predict/batch</c>.</summary>
public abstract record DecodeRequest
{
    /// <summary>speculative (default) or autoregressive; both give the same output when greedy.</summary>
    public DecodeStrategy Strategy { get; init; } = DecodeStrategy.Speculative;

    /// <summary>Sampling temperature, 0 to 2; 0 (default) is greedy.</summary>
    public float Temperature { get; init; }

    /// <summary>Sample among the k most likely tokens, 1 to 256 (default 26).</summary>
    public int TopK { get; init; } = DecodeOptions.ReferenceTopK;

    /// <summary>Makes sampling reproducible.</summary>
    public long? Seed { get; init; }

    /// <summary>Also return each cell's probability of being alive.</summary>
    public bool Probabilities { get; init; }

    /// <summary>
    /// Give up (504) when there is no answer within this many milliseconds of arrival; capped at, and by default,
    /// Model:MaxDeadlineMs. The header <c>X-Deadline-Ms</c> does the same; with both, the earlier deadline holds.
    /// </summary>
    public int? DeadlineMs { get; init; }
}

/// <summary>One board, given as exactly one of <c>board</c>, <c>rle</c> or <c>cells</c>.</summary>
public sealed record PredictRequest : DecodeRequest
{
    /// <summary>32 rows of 32 characters, '0' (dead) or '1' (alive).</summary>
    public IReadOnlyList<string?>? Board { get; init; }

    /// <summary>A pattern in RLE, placed on the 32x32 torus.</summary>
    public string? Rle { get; init; }

    /// <summary>A pattern in plaintext (.cells), placed on the 32x32 torus.</summary>
    public string? Cells { get; init; }
}

/// <summary>Several boards, predicted together in one model batch.</summary>
public sealed record PredictBatchRequest : DecodeRequest
{
    /// <summary>The boards, each 32 rows of 32 characters '0' or '1'.</summary>
    public IReadOnlyList<IReadOnlyList<string?>?>? Boards { get; init; }
}
