using Conway.Boards;

namespace Conway.Evaluation;

/// <summary>
/// A LifeGPT paper test set: a CSV whose header is <c>State 1,...,State N</c> and whose every other line is one
/// trajectory of N boards, each 1024 '0'/'1' cells row-major; consecutive states are one step of the rule.
/// </summary>
public sealed class LifeGptTestSet
{
    private LifeGptTestSet(IReadOnlyList<Board[]> trajectories) => Trajectories = trajectories;

    /// <summary>The trajectories, each of <see cref="States"/> boards (State 1 at index 0).</summary>
    public IReadOnlyList<Board[]> Trajectories { get; }

    public int States => Trajectories.Count == 0 ? 0 : Trajectories[0].Length;

    public static LifeGptTestSet Read(string path)
    {
        using var reader = new StreamReader(path);
        return Parse(reader, Path.GetFileName(path));
    }

    /// <summary>Parses the CSV; every problem is a <see cref="FormatException"/> naming the source and line.</summary>
    public static LifeGptTestSet Parse(TextReader reader, string source)
    {
        string header = reader.ReadLine() ?? throw new FormatException($"{source}: empty file, expected the header 'State 1,...,State N'.");
        string[] columns = header.Split(',');
        for (int i = 0; i < columns.Length; i++)
            if (columns[i].Trim() != $"State {i + 1}")
                throw new FormatException($"{source}, line 1: column {i + 1} is '{columns[i]}', expected 'State {i + 1}'.");

        var trajectories = new List<Board[]>();
        int lineNo = 1;
        for (string? line; (line = reader.ReadLine()) is not null;)
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            string[] cells = line.Split(',');
            if (cells.Length != columns.Length)
                throw new FormatException($"{source}, line {lineNo}: {cells.Length} states, the header names {columns.Length}.");
            var states = new Board[cells.Length];
            for (int s = 0; s < cells.Length; s++)
            {
                try
                {
                    states[s] = Board.FromCells(cells[s].Trim());
                }
                catch (BoardFormatException e)
                {
                    throw new FormatException($"{source}, line {lineNo}, State {s + 1}: {e.Message}", e);
                }
            }
            trajectories.Add(states);
        }
        if (trajectories.Count == 0) throw new FormatException($"{source}: no trajectories after the header.");
        return new LifeGptTestSet(trajectories);
    }
}
