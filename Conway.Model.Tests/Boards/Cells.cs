using Conway.Boards;

namespace Conway.Model.Tests.Boards;

/// <summary>Boards written and read as lists of live cells, so that assertions show concrete coordinates.</summary>
internal static class Cells
{
    public static Board Board(params (int Row, int Col)[] alive) =>
        alive.Aggregate(Conway.Boards.Board.Empty, (b, cell) => b.With(cell.Row, cell.Col, true));

    /// <summary>The live cells in row-major order.</summary>
    public static (int Row, int Col)[] Of(Board b) =>
        [.. from r in Enumerable.Range(0, Conway.Boards.Board.Size)
            from c in Enumerable.Range(0, Conway.Boards.Board.Size)
            where b[r, c]
            select (r, c)];
}
