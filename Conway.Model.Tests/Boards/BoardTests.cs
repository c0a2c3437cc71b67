using Conway.Boards;

namespace Conway.Model.Tests.Boards;

public class BoardTests
{
    private static string[] ValidRows() => Board.Empty.ToRows();

    [Fact]
    public void FromRows_rejects_the_wrong_number_of_rows()
    {
        var ex = Assert.Throws<BoardFormatException>(() => Board.FromRows(ValidRows()[..31]));
        Assert.Equal("A board has 32 rows; got 31.", ex.Message);
    }

    [Fact]
    public void FromRows_rejects_a_row_of_the_wrong_length_naming_the_row()
    {
        var rows = ValidRows();
        rows[3] = new string('0', 33);
        var ex = Assert.Throws<BoardFormatException>(() => Board.FromRows(rows));
        Assert.Equal("Row 3 has 33 characters; every row has 32.", ex.Message);
    }

    [Fact]
    public void FromRows_rejects_a_bad_character_naming_row_and_column()
    {
        var rows = ValidRows();
        rows[2] = "00000x" + new string('0', 26);
        var ex = Assert.Throws<BoardFormatException>(() => Board.FromRows(rows));
        Assert.StartsWith("Row 2, column 5: 'x' is not a cell", ex.Message);
    }

    [Fact]
    public void FromRows_rejects_null_rows_and_a_null_board()
    {
        string?[] rows = ValidRows();
        rows[7] = null;
        Assert.Equal("Row 7 is null.", Assert.Throws<BoardFormatException>(() => Board.FromRows(rows)).Message);
        Assert.StartsWith("The board is missing", Assert.Throws<BoardFormatException>(() => Board.FromRows(null)).Message);
    }

    [Fact]
    public void FromCells_names_row_column_and_cell_of_a_bad_character()
    {
        char[] cells = Board.Empty.ToCells().ToCharArray();
        cells[32 * 4 + 9] = '\t';
        var ex = Assert.Throws<BoardFormatException>(() => Board.FromCells(cells));
        Assert.StartsWith("Row 4, column 9 (cell 137): '\\u0009'", ex.Message);
    }

    [Fact]
    public void Translate_moves_cells_and_wraps_around_the_torus()
    {
        Board b = Cells.Board((0, 0), (5, 30));
        Assert.Equal([(2, 3), (7, 1)], Cells.Of(b.Translate(2, 3)));
        Assert.Equal([(4, 29), (31, 31)], Cells.Of(b.Translate(-1, -1)));
        Assert.Equal(b, b.Translate(32, -64));
    }
}
