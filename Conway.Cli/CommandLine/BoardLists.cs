using Conway.Boards;

namespace Conway.Cli.CommandLine;

/// <summary>A list of boards named by an option (<c>--hard-boards</c>, <c>--boards-file</c>): one a line, as <see cref="CellLines"/>.</summary>
public static class BoardLists
{
    /// <summary>The file's path and its boards; a missing file, a bad line or a file without boards is a usage error.</summary>
    public static (string Path, IReadOnlyList<Board> Boards) Read(string file, string option)
    {
        string path = FileSearch.Require(file, option, "conway eval writes the boards it graded wrong to wrong-boards.txt in its --out");
        try
        {
            var boards = CellLines.Parse(File.ReadLines(path));
            return boards.Count > 0 ? (path, boards) : throw new CliUsageException($"{option}: {Path.GetFileName(path)} holds no boards");
        }
        catch (BoardFormatException e)
        {
            throw new CliUsageException($"{option}: {Path.GetFileName(path)}, {e.Message}");
        }
    }
}
