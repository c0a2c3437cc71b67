using Conway.Boards;

namespace Conway.Model.Tests.Boards;

public sealed class CellLinesTests
{
    [Fact]
    public void Boards_are_read_one_a_line_skipping_blank_lines_and_a_bad_line_is_named()
    {
        var boards = new[] { Board.Random(0.35, new Random(100)), Board.Random(0.35, new Random(101)) };

        Assert.Equal(boards, CellLines.Parse([boards[0].ToCells(), "", boards[1].ToCells() + "  "]));
        var error = Assert.Throws<BoardFormatException>(() => CellLines.Parse([boards[0].ToCells(), "0101"]));
        Assert.StartsWith("line 2: ", error.Message);
    }
}
