using Conway.Decoding;

namespace Conway.Model.Tests.Decoding;

/// <summary>
/// The next draft after a rejected pass (<see cref="SelfDraft"/>): the model's cell at the rejection, its own choices
/// after it, and near ties flipped where the new draft changed their left neighbour to the other state. Cells are
/// written as '0'/'1' strings; the margins are logit('1') - logit('0') of the choices.
/// </summary>
public sealed class SelfDraftTests
{
    private static string Redraft(string seen, string choices, float[] margins, float flipMargin, int rejected)
    {
        var draft = new byte[choices.Length];
        SelfDraft.Redraft(Bytes(seen), Bytes(choices), margins, flipMargin, rejected, draft);
        return new string(draft.Select(b => (char)b).ToArray());
    }

    private static byte[] Bytes(string cells) => cells.Select(c => (byte)c).ToArray();

    [Fact]
    public void TheRejectedCell_TakesTheModelsChoice_AndCellsBeforeItKeepWhatThePassSaw()
    {
        // cell 2 rejected ('0' seen, '1' chosen); the choices before it differ from what the pass saw (cells settled earlier)
        Assert.Equal("0111", Redraft("0100", "1011", [5, -5, 5, 5], 0.5f, 2));
    }

    [Fact]
    public void ANearTie_WhoseLeftNeighbourChangedToTheOtherState_IsDraftedAsThatState()
    {
        // the rejection turns cell 1 from '0' to '1'; cell 2 chose '0' by a margin of 0.3 seeing a '0' there
        Assert.Equal("0110", Redraft("0000", "0100", [-5, 5, -0.3f, -5], 0.5f, 1));
        // the same the other way: cell 1 from '1' to '0', cell 2 chose '1' by 0.3
        Assert.Equal("1001", Redraft("1111", "1011", [5, -5, 0.3f, 5], 0.5f, 1));
    }

    [Fact]
    public void FlipsCarryRightwards_WhileEachNextCellIsANearTieAgainstItsNewLeftNeighbour()
    {
        // cell 2 flips to '1', so cell 3 (a near tie at '0', its seen left neighbour '0') flips too; cell 4 is confident
        Assert.Equal("011100", Redraft("000000", "010000", [-5, 5, -0.2f, -0.4f, -3, -5], 0.5f, 1));
    }

    [Theory]
    [InlineData(-0.5f)]   // the margin is not under the flip margin
    [InlineData(-2f)]     // a confident choice
    public void AChoiceAtOrAboveTheFlipMargin_IsKept(float margin)
    {
        Assert.Equal("0100", Redraft("0000", "0100", [-5, 5, margin, -5], 0.5f, 1));
    }

    [Fact]
    public void ANearTie_WhoseLeftNeighbourIsAsThePassSawIt_OrAlreadyAgrees_IsKept()
    {
        // cell 3's left neighbour (cell 2) is '0' as seen: its near tie stands; cell 2 is '1'-leaning like its new left neighbour
        Assert.Equal("0100", Redraft("0000", "0100", [-5, 5, -3, -0.1f], 0.5f, 1));
        Assert.Equal("0110", Redraft("0000", "0110", [-5, 5, 0.1f, -3], 0.5f, 1));
    }

    [Fact]
    public void FlipMarginZero_DraftsThePassesChoicesAsTheyAre_WithoutMargins()
    {
        Assert.Equal("0100", Redraft("0000", "0100", [], 0, 1));
    }

    [Fact]
    public void MismatchedLengthsOrARejectionOutsideTheCells_AreRefused()
    {
        Assert.Throws<ArgumentException>(() => Redraft("000", "0100", [0, 0, 0, 0], 0.5f, 1));
        Assert.Throws<ArgumentException>(() => Redraft("0000", "0100", [0, 0], 0.5f, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Redraft("0000", "0100", [0, 0, 0, 0], 0.5f, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => Redraft("0000", "0100", [0, 0, 0, 0], 0.5f, -1));
    }
}
