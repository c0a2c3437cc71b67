using System.Numerics;
using System.Text;

namespace Conway.Boards;

/// <summary>
/// A 32x32 toroidal Game of Life board, one 32-bit word per row: bit <c>c</c> of row <c>r</c> is cell (r, c).
/// Immutable; equality is cell-by-cell.
/// </summary>
public sealed class Board : IEquatable<Board>
{
    public const int Size = 32;
    public const int Cells = Size * Size;

    private readonly uint[] _rows;

    private Board(uint[] rows) => _rows = rows;

    public static Board Empty { get; } = new(new uint[Size]);

    /// <summary>The rows as words (bit c = column c). A copy: the board stays immutable.</summary>
    public uint[] ToWords() => (uint[])_rows.Clone();

    public static Board FromWords(ReadOnlySpan<uint> rows)
    {
        if (rows.Length != Size) throw new BoardFormatException($"A board has {Size} rows; got {rows.Length}.");
        return new Board(rows.ToArray());
    }

    public bool this[int row, int col] => ((_rows[Wrap(row)] >> Wrap(col)) & 1) != 0;

    public int Population
    {
        get
        {
            int n = 0;
            foreach (uint w in _rows) n += BitOperations.PopCount(w);
            return n;
        }
    }

    /// <summary>Wraps a row or column index onto the torus.</summary>
    public static int Wrap(int i) => ((i % Size) + Size) % Size;

    public Board With(int row, int col, bool alive)
    {
        var rows = ToWords();
        uint bit = 1u << Wrap(col);
        if (alive) rows[Wrap(row)] |= bit; else rows[Wrap(row)] &= ~bit;
        return new Board(rows);
    }

    /// <summary>The board shifted across the torus: cell (r, c) moves to (r + <paramref name="rows"/>, c + <paramref name="cols"/>), wrapping.</summary>
    public Board Translate(int rows, int cols)
    {
        var words = new uint[Size];
        int down = Wrap(rows), right = Wrap(cols);
        for (int r = 0; r < Size; r++) words[(r + down) % Size] = BitOperations.RotateLeft(_rows[r], right);
        return new Board(words);
    }

    /// <summary>Parses 32 rows of 32 characters '0' (dead) or '1' (alive).</summary>
    public static Board FromRows(IReadOnlyList<string?>? rows)
    {
        if (rows is null) throw new BoardFormatException("The board is missing: expected 32 rows of 32 characters '0' or '1'.");
        if (rows.Count != Size) throw new BoardFormatException($"A board has {Size} rows; got {rows.Count}.");
        var words = new uint[Size];
        for (int r = 0; r < Size; r++)
        {
            string? row = rows[r];
            if (row is null) throw new BoardFormatException($"Row {r} is null.");
            if (row.Length != Size) throw new BoardFormatException($"Row {r} has {row.Length} characters; every row has {Size}.");
            words[r] = ParseRow(row, r, 0);
        }
        return new Board(words);
    }

    /// <summary>Parses 1024 characters '0'/'1', row-major (cell (r, c) at 32*r + c): the model's own layout.</summary>
    public static Board FromCells(ReadOnlySpan<char> cells)
    {
        if (cells.Length != Cells) throw new BoardFormatException($"A flattened board has {Cells} cells; got {cells.Length}.");
        var words = new uint[Size];
        for (int r = 0; r < Size; r++) words[r] = ParseRow(cells.Slice(r * Size, Size), r, r * Size);
        return new Board(words);
    }

    /// <summary>Builds a board from 1024 booleans or 0/1 values, row-major.</summary>
    public static Board FromCells(ReadOnlySpan<byte> alive)
    {
        if (alive.Length != Cells) throw new BoardFormatException($"A flattened board has {Cells} cells; got {alive.Length}.");
        var words = new uint[Size];
        for (int i = 0; i < Cells; i++)
            if (alive[i] != 0) words[i / Size] |= 1u << (i % Size);
        return new Board(words);
    }

    private static uint ParseRow(ReadOnlySpan<char> row, int r, int offset)
    {
        uint w = 0;
        for (int c = 0; c < Size; c++)
        {
            switch (row[c])
            {
                case '0': break;
                case '1': w |= 1u << c; break;
                default:
                    throw new BoardFormatException(
                        $"Row {r}, column {c}{(offset > 0 ? $" (cell {offset + c})" : "")}: '{Printable(row[c])}' is not a cell; use '0' (dead) or '1' (alive).");
            }
        }
        return w;
    }

    /// <summary>A character as it can be shown in an error message (control characters escaped).</summary>
    internal static string Printable(char ch) => char.IsControl(ch) ? $"\\u{(int)ch:x4}" : ch.ToString();

    public string[] ToRows()
    {
        var rows = new string[Size];
        for (int r = 0; r < Size; r++)
        {
            uint w = _rows[r];
            rows[r] = string.Create(Size, w, static (span, word) =>
            {
                for (int c = 0; c < Size; c++) span[c] = ((word >> c) & 1) != 0 ? '1' : '0';
            });
        }
        return rows;
    }

    /// <summary>The 1024 cells as '0'/'1', row-major.</summary>
    public string ToCells() => string.Concat(ToRows());

    /// <summary>A random board, each cell alive with probability <paramref name="density"/>.</summary>
    public static Board Random(double density, Random rng)
    {
        var words = new uint[Size];
        for (int i = 0; i < Cells; i++)
            if (rng.NextDouble() < density) words[i / Size] |= 1u << (i % Size);
        return new Board(words);
    }

    /// <summary>Cells where the two boards differ.</summary>
    public int CountDifferences(Board other)
    {
        int n = 0;
        for (int r = 0; r < Size; r++) n += BitOperations.PopCount(_rows[r] ^ other._rows[r]);
        return n;
    }

    public bool Equals(Board? other) => other is not null && _rows.AsSpan().SequenceEqual(other._rows);
    public override bool Equals(object? obj) => Equals(obj as Board);

    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (uint w in _rows) h.Add(w);
        return h.ToHashCode();
    }

    public override string ToString()
    {
        var sb = new StringBuilder(Cells + Size);
        foreach (var row in ToRows()) sb.Append(row).Append('\n');
        return sb.ToString();
    }
}

/// <summary>A board or pattern that cannot be read; the message says what is wrong and where.</summary>
public sealed class BoardFormatException(string message) : FormatException(message);
