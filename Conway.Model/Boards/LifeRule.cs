namespace Conway.Boards;

/// <summary>
/// PLACEHOLDER on branch <c>api</c> so the service compiles: the real <c>LifeRule</c> comes from the model branch.
/// Drop this file at merge.
/// </summary>
public static class LifeRule
{
    /// <summary>One generation of B3/S23 on the torus.</summary>
    public static Board Step(Board board)
    {
        var next = new byte[Board.Cells];
        for (int r = 0; r < Board.Size; r++)
        for (int c = 0; c < Board.Size; c++)
        {
            int neighbours = 0;
            for (int dr = -1; dr <= 1; dr++)
            for (int dc = -1; dc <= 1; dc++)
                if ((dr, dc) != (0, 0) && board[r + dr, c + dc]) neighbours++;
            next[r * Board.Size + c] = (byte)(neighbours == 3 || (neighbours == 2 && board[r, c]) ? 1 : 0);
        }
        return Board.FromCells(next);
    }
}
