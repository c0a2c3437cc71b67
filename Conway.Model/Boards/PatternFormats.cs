namespace Conway.Boards;

/// <summary>
/// PLACEHOLDER on branch <c>api</c> so the service compiles: the real parsers come from the model branch.
/// Drop this file at merge.
/// </summary>
public static class PatternFormats
{
    /// <summary>Parses an RLE pattern onto a board; throws <see cref="BoardFormatException"/> when it cannot.</summary>
    public static Board ParseRle(string text) => throw new NotImplementedException("RLE parsing lands from the model branch.");

    /// <summary>Parses a plaintext (.cells) pattern onto a board; throws <see cref="BoardFormatException"/> when it cannot.</summary>
    public static Board ParsePlaintext(string text) => throw new NotImplementedException("Plaintext parsing lands from the model branch.");
}
