using System.Globalization;
using System.Numerics;
using System.Text;

namespace Conway.Boards;

/// <summary>
/// The Life community's pattern formats: plaintext (<c>.cells</c>) and run-length encoded (<c>.rle</c>).
/// A parsed pattern is placed with its top-left corner at cell (0, 0) of the torus.
/// Every problem with the input is a <see cref="BoardFormatException"/> that says what is wrong and where
/// (lines and columns counted from 1).
/// </summary>
public static class PatternFormats
{
    private const int Size = Board.Size;
    private const int MaxRleLineLength = 70;
    private const string RleHeaderShape = "'x = <width>, y = <height>[, rule = B3/S23]'";

    // ---- Plaintext ----

    /// <summary>Parses a <c>.cells</c> pattern: '!' lines are comments, '.' is dead, 'O' or '*' alive; short rows are padded.</summary>
    public static Board ParsePlaintext(string text)
    {
        string[] lines = SplitLines(text, "plaintext");
        var rows = new List<string>();
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].StartsWith('!')) continue;
            string row = lines[i].TrimEnd();
            for (int c = 0; c < row.Length; c++)
            {
                if (row[c] is not ('.' or 'O' or '*'))
                    throw new BoardFormatException(
                        $"Line {i + 1}, column {c + 1}: '{Board.Printable(row[c])}' is not a cell; use '.' (dead) or 'O' (alive).");
            }
            rows.Add(row);
        }
        while (rows.Count > 0 && rows[^1].Length == 0) rows.RemoveAt(rows.Count - 1);
        if (rows.Count == 0) throw new BoardFormatException("The plaintext pattern has no rows of cells, only comments.");

        int width = rows.Max(r => r.Length);
        if (width > Size || rows.Count > Size)
            throw new BoardFormatException($"The pattern is {width}x{rows.Count}; the torus is {Size}x{Size}.");

        var words = new uint[Size];
        for (int r = 0; r < rows.Count; r++)
            for (int c = 0; c < rows[r].Length; c++)
                if (rows[r][c] != '.') words[r] |= 1u << c;
        return Board.FromWords(words);
    }

    /// <summary>Writes the whole torus as 32 rows of '.' and 'O', after an optional "!Name:" comment.</summary>
    public static string ToPlaintext(Board b, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(b);
        var sb = new StringBuilder();
        if (!string.IsNullOrWhiteSpace(name)) sb.Append("!Name: ").Append(name.ReplaceLineEndings(" ")).Append('\n');
        foreach (string row in b.ToRows()) sb.Append(row.Replace('0', '.').Replace('1', 'O')).Append('\n');
        return sb.ToString();
    }

    // ---- RLE ----

    /// <summary>
    /// Parses an RLE pattern: optional '#' comment lines, the header <c>x = m, y = n[, rule = B3/S23]</c>,
    /// then runs of 'b' or '.' (dead) and 'o' (alive; other letters count as alive too), '$' ending rows, and '!' ending the pattern.
    /// Whitespace in the body is ignored, and so is anything after '!'.
    /// </summary>
    public static Board ParseRle(string text)
    {
        string[] lines = SplitLines(text, "RLE");
        int header = 0;
        while (header < lines.Length && (lines[header].StartsWith('#') || string.IsNullOrWhiteSpace(lines[header]))) header++;
        if (header == lines.Length) throw new BoardFormatException($"The RLE pattern has only comments; the header {RleHeaderShape} is missing.");

        var (width, height) = ParseRleHeader(lines[header], header + 1);
        return ParseRleBody(lines, header + 1, width, height);
    }

    /// <summary>Writes the board as RLE with a 32x32 header; dead cells ending a row and empty rows ending the board are left out.</summary>
    public static string ToRle(Board b)
    {
        ArgumentNullException.ThrowIfNull(b);
        var tokens = new List<string>();
        int writerRow = 0;
        uint[] rows = b.ToWords();
        for (int r = 0; r < Size; r++)
        {
            if (rows[r] == 0) continue;
            if (r > writerRow) tokens.Add(Run(r - writerRow, '$'));
            writerRow = r;
            AddRowRuns(rows[r], tokens);
        }
        tokens.Add("!");

        var sb = new StringBuilder($"x = {Size}, y = {Size}, rule = B3/S23\n");
        int lineLength = 0;
        foreach (string token in tokens)
        {
            if (lineLength + token.Length > MaxRleLineLength)
            {
                sb.Append('\n');
                lineLength = 0;
            }
            sb.Append(token);
            lineLength += token.Length;
        }
        return sb.Append('\n').ToString();
    }

    private static (int Width, int Height) ParseRleHeader(string line, int lineNo)
    {
        string[] fields = line.Split(',', 3); // the rule may contain commas, e.g. Golly's "B3/S23:T32,32"
        if (fields.Length is < 2 or > 3) throw BadHeader(line, lineNo);
        string width = HeaderValue(fields[0], "x", line, lineNo);
        string height = HeaderValue(fields[1], "y", line, lineNo);
        if (fields.Length == 3) CheckRule(HeaderValue(fields[2], "rule", line, lineNo), lineNo);

        int w = HeaderNumber(width, "x", lineNo), h = HeaderNumber(height, "y", lineNo);
        if (w > Size || h > Size)
            throw new BoardFormatException($"Line {lineNo}: the pattern is {width}x{height}; the torus is {Size}x{Size}.");
        return (w, h);
    }

    private static string HeaderValue(string field, string key, string line, int lineNo)
    {
        int eq = field.IndexOf('=');
        if (eq < 0 || !field[..eq].Trim().Equals(key, StringComparison.OrdinalIgnoreCase)) throw BadHeader(line, lineNo);
        return field[(eq + 1)..].Trim();
    }

    /// <summary>A header size: digits only; a number too big for an int is reported as too large, never overflows.</summary>
    private static int HeaderNumber(string value, string key, int lineNo)
    {
        if (value.Length == 0 || !value.All(char.IsAsciiDigit))
            throw new BoardFormatException($"Line {lineNo}: {key} = '{value}' is not a whole number.");
        return int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n : int.MaxValue;
    }

    private static void CheckRule(string rule, int lineNo)
    {
        string normalized = rule.Replace(" ", "").ToUpperInvariant();
        if (normalized is not ("B3/S23" or "23/3"))
            throw new BoardFormatException($"Line {lineNo}: rule '{rule}' is not supported; only B3/S23 (Conway's Life) is.");
    }

    /// <summary>
    /// Reads the runs after the header. Run counts are capped at the size of the board so that a huge count
    /// is reported rather than overflowing.
    /// </summary>
    private static Board ParseRleBody(string[] lines, int firstLine, int width, int height)
    {
        var words = new uint[Size];
        int row = 0, col = 0;
        int? count = null;
        (int Line, int Column) countAt = default;
        for (int i = firstLine; i < lines.Length; i++)
        {
            string line = lines[i];
            for (int j = 0; j < line.Length; j++)
            {
                char ch = line[j];
                string At() => $"Line {i + 1}, column {j + 1}";
                if (char.IsWhiteSpace(ch)) continue;
                if (char.IsAsciiDigit(ch))
                {
                    if (count is null) countAt = (i + 1, j + 1);
                    count = (count ?? 0) * 10 + (ch - '0');
                    if (count > Board.Cells)
                        throw new BoardFormatException(
                            $"Line {countAt.Line}, column {countAt.Column}: the run count is over {Board.Cells}, more than the whole torus.");
                    continue;
                }
                if (ch == '!')
                {
                    if (count is not null) throw DanglingCount(countAt, count.Value);
                    return Board.FromWords(words);
                }
                if (ch != '$' && ch != '.' && !char.IsAsciiLetter(ch))
                    throw new BoardFormatException(
                        $"{At()}: '{Board.Printable(ch)}' is not valid in an RLE body; use b (dead), o (alive), $ (end of row), run counts and ! (end).");

                int n = count ?? 1;
                count = null;
                if (n == 0) throw new BoardFormatException($"{At()}: a run count of 0 is not allowed.");
                if (ch == '$')
                {
                    row += n;
                    col = 0;
                    if (row > height) throw TooManyRows(At(), height);
                    continue;
                }
                if (row >= height) throw TooManyRows(At(), height);
                if (col + n > width)
                    throw new BoardFormatException($"{At()}: this row is longer than the {width} columns the header declares (x = {width}).");
                if (ch is not ('b' or '.')) words[row] |= RunMask(col, n);
                col += n;
            }
        }
        // A missing '!' is tolerated: the text simply ends the pattern.
        if (count is not null) throw DanglingCount(countAt, count.Value);
        return Board.FromWords(words);
    }

    /// <summary>Bits col .. col + n - 1 set (n between 1 and 32).</summary>
    private static uint RunMask(int col, int n) => (uint)(((1UL << n) - 1) << col);

    /// <summary>Appends one row's runs: alternating dead and alive runs, trailing dead cells left out.</summary>
    private static void AddRowRuns(uint row, List<string> tokens)
    {
        for (ulong rest = row; rest != 0;)
        {
            int dead = BitOperations.TrailingZeroCount(rest);
            rest >>= dead;
            int alive = BitOperations.TrailingZeroCount(~rest);
            rest >>= alive;
            if (dead > 0) tokens.Add(Run(dead, 'b'));
            tokens.Add(Run(alive, 'o'));
        }
    }

    private static string Run(int n, char tag) => n == 1 ? tag.ToString() : $"{n}{tag}";

    // ---- Shared ----

    private static string[] SplitLines(string? text, string format)
    {
        if (string.IsNullOrWhiteSpace(text)) throw new BoardFormatException($"The {format} pattern is empty.");
        return text.ReplaceLineEndings("\n").Split('\n');
    }

    private static BoardFormatException BadHeader(string line, int lineNo) =>
        new($"Line {lineNo}: expected the RLE header {RleHeaderShape}, found '{Shorten(line)}'.");

    private static BoardFormatException TooManyRows(string at, int height) =>
        new($"{at}: the pattern has more than the {height} rows the header declares (y = {height}).");

    private static BoardFormatException DanglingCount((int Line, int Column) at, int count) =>
        new($"Line {at.Line}, column {at.Column}: the run count {count} is not followed by b, o or $.");

    private static string Shorten(string line)
    {
        string printable = string.Concat(line.Select(Board.Printable));
        return printable.Length <= 40 ? printable : printable[..40] + "...";
    }
}
