using Conway.Boards;

namespace Conway.Model.Tests.Boards;

public class PatternFormatsTests
{
    private static readonly (int, int)[] GliderAtOrigin = [(0, 1), (1, 2), (2, 0), (2, 1), (2, 2)];

    // ---- Parsing ----

    [Fact]
    public void Plaintext_glider_is_placed_at_the_top_left_after_its_comments()
    {
        Board b = PatternFormats.ParsePlaintext("!Name: Glider\n!\n.O\n..O\nOOO\n");
        Assert.Equal(GliderAtOrigin, Cells.Of(b));
    }

    [Fact]
    public void Plaintext_accepts_stars_crlf_blank_rows_and_trailing_spaces()
    {
        Board b = PatternFormats.ParsePlaintext("*.*  \r\n\r\n.*\r\n\r\n");
        Assert.Equal([(0, 0), (0, 2), (2, 1)], Cells.Of(b));
    }

    [Theory]
    [InlineData("#N Glider\n#C The smallest spaceship.\nx = 3, y = 3, rule = B3/S23\nbo$2bo$3o!\n")]
    [InlineData("x=3,y=3\nbo$2bo$3o!")]
    [InlineData("x = 3, y = 3, rule = b3/s23\nbo$2bo$3o!")]
    [InlineData("\n#C blank line first\r\nx=3, y=3, rule=23/3\r\nbo$2bo$3o!")]
    [InlineData("x = 3, y = 3\nb o\n$ 2b\no$3\no! anything after the end, even $$ garbage %")]
    [InlineData("x = 3, y = 3\nbo$2bo$3o")]
    [InlineData("x = 3, y = 3\n.A$2.B$3o!")]
    public void Rle_glider_parses_with_every_header_and_body_variant(string rle)
    {
        Assert.Equal(GliderAtOrigin, Cells.Of(PatternFormats.ParseRle(rle)));
    }

    [Fact]
    public void Rle_run_counts_cover_whole_rows_and_several_row_ends()
    {
        Board b = PatternFormats.ParseRle("x = 32, y = 32\n32o3$31bo!");
        Assert.Equal(Enumerable.Range(0, 32).Select(c => (0, c)).Append((3, 31)), Cells.Of(b));
    }

    [Fact]
    public void Rle_with_an_empty_body_is_an_empty_board()
    {
        Assert.Equal(Board.Empty, PatternFormats.ParseRle("x = 0, y = 0\n!"));
    }

    // ---- Writing ----

    [Fact]
    public void ToRle_writes_a_32x32_header_and_compact_runs()
    {
        Assert.Equal("x = 32, y = 32, rule = B3/S23\nbo$2bo$3o!\n", PatternFormats.ToRle(Cells.Board(GliderAtOrigin)));
        Assert.Equal("x = 32, y = 32, rule = B3/S23\n2$o3$31bo!\n", PatternFormats.ToRle(Cells.Board((2, 0), (5, 31))));
        Assert.Equal("x = 32, y = 32, rule = B3/S23\n!\n", PatternFormats.ToRle(Board.Empty));
    }

    [Fact]
    public void ToRle_keeps_lines_within_70_characters()
    {
        Board checkerboard = Board.FromCells(Enumerable.Range(0, Board.Cells).Select(i => (byte)((i / 32 + i % 32) % 2)).ToArray());
        string rle = PatternFormats.ToRle(checkerboard);
        string[] lines = rle.TrimEnd('\n').Split('\n');
        Assert.All(lines, line => Assert.InRange(line.Length, 1, 70));
        // Row 0 (32 characters), row 1 (31: its dead last cell is left out), then row 2 until the line is full.
        Assert.Equal(string.Concat(Enumerable.Repeat("bo", 16)) + "$" + string.Concat(Enumerable.Repeat("ob", 15)) + "o$bobob", lines[1]);
        Assert.EndsWith("!", lines[^1]);
        Assert.Equal(checkerboard, PatternFormats.ParseRle(rle));
    }

    [Fact]
    public void ToPlaintext_writes_the_name_and_all_32_rows()
    {
        string[] lines = PatternFormats.ToPlaintext(Cells.Board(GliderAtOrigin), "Glider\nsouth-east").Split('\n');
        Assert.Equal(34, lines.Length);
        Assert.Equal("!Name: Glider south-east", lines[0]);
        Assert.Equal(".O" + new string('.', 30), lines[1]);
        Assert.Equal("OOO" + new string('.', 29), lines[3]);
        Assert.Equal(new string('.', 32), lines[32]);
        Assert.Equal("", lines[33]);
        Assert.DoesNotContain("!", PatternFormats.ToPlaintext(Board.Empty));
    }

    [Theory]
    [InlineData(0.02)]
    [InlineData(0.1)]
    [InlineData(0.3)]
    [InlineData(0.5)]
    [InlineData(0.7)]
    [InlineData(0.9)]
    [InlineData(0.98)]
    public void Random_boards_round_trip_through_both_formats(double density)
    {
        var rng = new Random(77 + (int)(density * 100));
        for (int i = 0; i < 25; i++)
        {
            Board b = Board.Random(density, rng);
            Assert.Equal(b, PatternFormats.ParseRle(PatternFormats.ToRle(b)));
            Assert.Equal(b, PatternFormats.ParsePlaintext(PatternFormats.ToPlaintext(b, $"random {density} #{i}")));
        }
    }

    [Fact]
    public void Catalogue_patterns_round_trip_through_both_formats()
    {
        foreach (Board b in Patterns.Named.Values)
        {
            Assert.Equal(b, PatternFormats.ParseRle(PatternFormats.ToRle(b)));
            Assert.Equal(b, PatternFormats.ParsePlaintext(PatternFormats.ToPlaintext(b)));
        }
    }

    // ---- Errors ----

    [Theory]
    [InlineData("", "The RLE pattern is empty.")]
    [InlineData(" \n\t\n", "The RLE pattern is empty.")]
    [InlineData("#C only a comment\n", "The RLE pattern has only comments; the header 'x = <width>, y = <height>[, rule = B3/S23]' is missing.")]
    [InlineData("bo$2bo$3o!", "Line 1: expected the RLE header 'x = <width>, y = <height>[, rule = B3/S23]', found 'bo$2bo$3o!'.")]
    [InlineData("#N glider\ny = 3, x = 3\n!", "Line 2: expected the RLE header")]
    [InlineData("x = 3; y = 3\n!", "Line 1: expected the RLE header")]
    [InlineData("x = 3", "Line 1: expected the RLE header")]
    [InlineData("x = 40, y = 12\n!", "Line 1: the pattern is 40x12; the torus is 32x32.")]
    [InlineData("x = 3, y = 99999999999\n!", "Line 1: the pattern is 3x99999999999; the torus is 32x32.")]
    [InlineData("x = three, y = 3\n!", "Line 1: x = 'three' is not a whole number.")]
    [InlineData("x = 3, y = -3\n!", "Line 1: y = '-3' is not a whole number.")]
    [InlineData("x = 3, y = 3, rule = B36/S23\n!", "Line 1: rule 'B36/S23' is not supported; only B3/S23 (Conway's Life) is.")]
    [InlineData("x = 3, y = 3, rule = B3/S23:T32,32\n!", "Line 1: rule 'B3/S23:T32,32' is not supported")]
    [InlineData("x = 3, y = 3\nbo$2bo$4o!", "Line 2, column 9: this row is longer than the 3 columns the header declares (x = 3).")]
    [InlineData("x = 3, y = 3\nbo$2bo$b3o!", "Line 2, column 10: this row is longer than the 3 columns")]
    [InlineData("x = 3, y = 2\nbo$2bo$3o!", "Line 2, column 9: the pattern has more than the 2 rows the header declares (y = 2).")]
    [InlineData("x = 3, y = 3\nbo$2bo$3o$$!", "Line 2, column 11: the pattern has more than the 3 rows")]
    [InlineData("x = 3, y = 3\nbo$2bo$3o%!", "Line 2, column 10: '%' is not valid in an RLE body")]
    [InlineData("x = 3, y = 3\nbo$\n\u00e9", "Line 3, column 1: '\u00e9' is not valid in an RLE body")]
    [InlineData("x = 3, y = 3\n99999999999o!", "Line 2, column 1: the run count is over 1024, more than the whole torus.")]
    [InlineData("x = 3, y = 3\n\n  0o!", "Line 3, column 4: a run count of 0 is not allowed.")]
    [InlineData("x = 3, y = 3\n3o2!", "Line 2, column 3: the run count 2 is not followed by b, o or $.")]
    [InlineData("x = 3, y = 3\nbo$2", "Line 2, column 4: the run count 2 is not followed by b, o or $.")]
    public void Rle_errors_say_what_and_where(string rle, string expected)
    {
        var ex = Assert.Throws<BoardFormatException>(() => PatternFormats.ParseRle(rle));
        Assert.StartsWith(expected, ex.Message);
    }

    [Theory]
    [InlineData("", "The plaintext pattern is empty.")]
    [InlineData("!Name: nothing\n!just comments\n", "The plaintext pattern has no rows of cells, only comments.")]
    [InlineData(".O.\n..x\n", "Line 2, column 3: 'x' is not a cell; use '.' (dead) or 'O' (alive).")]
    [InlineData(".O.\n O\n", "Line 2, column 1: ' ' is not a cell")]
    [InlineData("x = 3, y = 3\nbo$2bo$3o!", "Line 1, column 1: 'x' is not a cell")]
    public void Plaintext_errors_say_what_and_where(string text, string expected)
    {
        var ex = Assert.Throws<BoardFormatException>(() => PatternFormats.ParsePlaintext(text));
        Assert.StartsWith(expected, ex.Message);
    }

    [Theory]
    [InlineData(40, 12, "The pattern is 40x12; the torus is 32x32.")]
    [InlineData(1, 33, "The pattern is 1x33; the torus is 32x32.")]
    public void Plaintext_larger_than_the_torus_is_rejected_with_its_size(int width, int height, string expected)
    {
        string row = new string('.', width - 1) + "O\n";
        string text = string.Concat(Enumerable.Repeat(row, height));
        Assert.Equal(expected, Assert.Throws<BoardFormatException>(() => PatternFormats.ParsePlaintext(text)).Message);
    }

    // ---- Fuzz ----

    private const string FuzzAlphabet = "bo$!.O*0123456789xyrule=,B/S# \n\r\t\0\u00e9\ud834ABZz-";

    [Fact]
    public void Parsers_only_ever_throw_BoardFormatException_on_random_and_mutated_input()
    {
        var rng = new Random(20240716);
        string[] seeds =
        [
            PatternFormats.ToRle(Patterns.Named["pulsar"]),
            PatternFormats.ToPlaintext(Patterns.Named["glider"], "glider"),
            "#C glider\nx = 3, y = 3, rule = B3/S23\nbo$2bo$3o!",
            "x=32,y=32,rule=23/3\n32o$31b$o!",
            ".O\n..O\nOOO",
        ];
        int parsed = 0, rejected = 0;
        for (int i = 0; i < 4000; i++)
        {
            string input = i % 4 == 0 ? RandomText(rng, rng.Next(60)) : Mutate(rng, seeds[rng.Next(seeds.Length)]);
            foreach (Func<string, Board> parse in new Func<string, Board>[] { PatternFormats.ParseRle, PatternFormats.ParsePlaintext })
            {
                try
                {
                    parse(input);
                    parsed++;
                }
                catch (BoardFormatException ex)
                {
                    Assert.False(string.IsNullOrWhiteSpace(ex.Message));
                    rejected++;
                }
                catch (Exception ex)
                {
                    Assert.Fail($"{ex.GetType().Name} ({ex.Message}) on input {System.Text.Json.JsonSerializer.Serialize(input)}");
                }
            }
        }
        // Both outcomes are exercised often, so the fuzz reaches deep into the parsers, not just their first check.
        Assert.InRange(parsed, 200, 7800);
        Assert.InRange(rejected, 200, 7800);
    }

    private static string RandomText(Random rng, int length) =>
        new(Enumerable.Range(0, length).Select(_ => FuzzAlphabet[rng.Next(FuzzAlphabet.Length)]).ToArray());

    /// <summary>One to four random edits: insert, delete, replace, or splice in a huge run count.</summary>
    private static string Mutate(Random rng, string s)
    {
        for (int edits = rng.Next(1, 5); edits > 0; edits--)
        {
            int at = rng.Next(s.Length + 1);
            s = rng.Next(4) switch
            {
                0 => s.Insert(at, RandomText(rng, rng.Next(1, 4))),
                1 when at < s.Length => s.Remove(at, Math.Min(rng.Next(1, 4), s.Length - at)),
                2 when at < s.Length => s.Remove(at, 1).Insert(at, RandomText(rng, 1)),
                3 => s.Insert(at, rng.Next(2) == 0 ? "99999999999" : rng.Next(100).ToString()),
                _ => s,
            };
        }
        return s;
    }
}
