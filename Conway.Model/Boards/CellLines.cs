namespace Conway.Boards;

/// <summary>
/// Boards as text, one a line: 1,024 characters 0/1, row-major (<c>conway eval</c>'s wrong-boards.txt and
/// predictions.txt, read by <c>conway train --hard-boards</c> and <c>conway eval --boards-file</c>).
/// </summary>
public static class CellLines
{
    /// <summary>The boards in order; blank lines are skipped, a malformed line throws with its line number.</summary>
    public static IReadOnlyList<Board> Parse(IEnumerable<string> lines)
    {
        var boards = new List<Board>();
        int number = 0;
        foreach (var line in lines)
        {
            number++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            try { boards.Add(Board.FromCells(line.Trim())); }
            catch (BoardFormatException e) { throw new BoardFormatException($"line {number}: {e.Message}"); }
        }
        return boards;
    }
}
