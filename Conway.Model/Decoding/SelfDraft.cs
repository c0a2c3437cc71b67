namespace Conway.Decoding;

/// <summary>
/// The next draft of a board whose pass rejected a cell (greedy self-drafting, <see cref="SpeculativeRun"/>): the
/// model's cell at the rejection, then its own choices from that pass, except where a choice is a near tie that the
/// new draft has pushed over. Each choice was made seeing the old draft; where the new draft's left neighbour of a cell
/// differs from the one the pass saw, the cell's choice is stale. A trained model's cell leans towards its left
/// neighbour's state: a choice whose logit margin (logit('1') - logit('0')) is under <see cref="DecodeOptions.FlipMargin"/>
/// and whose new left neighbour is the other state is drafted as that state instead, and so on rightwards, since a
/// flipped cell is itself a changed left neighbour. Measured (docs/PERFORMANCE.md): of the cells whose left neighbour
/// changed against them, the next pass flipped 89% of those with margins under 0.25, 67% under 0.5, 46% under 0.75
/// and about none above 1; drafting the flip where it is likelier than not removes a rejection, and so often a pass.
/// The draft only decides how many passes a board takes: verification keeps the model's own cells, whatever is drafted.
/// </summary>
internal static class SelfDraft
{
    /// <summary>
    /// Writes into <paramref name="draft"/> the next draft of cells <paramref name="rejected"/>.. of one board, given the
    /// draft the pass <paramref name="seen"/>, the model's <paramref name="choices"/> and their <paramref name="margins"/>
    /// over the same cells (empty with <paramref name="flipMargin"/> 0: the choices as they are). Cells before the
    /// rejection keep what the pass saw.
    /// </summary>
    public static void Redraft(ReadOnlySpan<byte> seen, ReadOnlySpan<byte> choices, ReadOnlySpan<float> margins, float flipMargin,
        int rejected, Span<byte> draft)
    {
        if (seen.Length != choices.Length || draft.Length != choices.Length || (flipMargin > 0 && margins.Length != choices.Length))
            throw new ArgumentException("seen, choices, margins and draft must cover the same cells");
        ArgumentOutOfRangeException.ThrowIfNegative(rejected);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(rejected, choices.Length);
        seen[..rejected].CopyTo(draft);
        draft[rejected] = choices[rejected];
        for (int j = rejected + 1; j < choices.Length; j++)
        {
            byte left = draft[j - 1];
            bool pushedOver = flipMargin > 0 && left != seen[j - 1] && choices[j] != left && Math.Abs(margins[j]) < flipMargin;
            draft[j] = pushedOver ? left : choices[j];
        }
    }
}
