using System.ComponentModel.DataAnnotations;
using Conway.Boards;

namespace Conway.Api.Contracts;

/// <summary>A board given as exactly one of its three forms: <c>board</c> (rows), <c>rle</c> or <c>cells</c> (plaintext).</summary>
internal static class BoardForms
{
    /// <summary>The <c>errors</c> key of a mistake in the request as a whole (not in one field).</summary>
    public const string Document = "$";

    /// <summary>What is wrong with the forms given: not exactly one, or the one given does not parse.</summary>
    public static IEnumerable<ValidationResult> Validate(IReadOnlyList<string?>? rows, string? rle, string? cells)
    {
        var given = Forms(rows, rle, cells).Where(form => form.Given).ToList();
        if (given is not [var only])
            yield return new ValidationResult(
                $"Give the board as exactly one of 'board', 'rle' or 'cells'; got {(given.Count == 0 ? "none" : string.Join(" and ", given.Select(form => $"'{form.Field}'")))}.",
                [Document]);
        else if (Problem(only.Parse) is { } problem)
            yield return new ValidationResult(problem, [only.Field]);
    }

    /// <summary>The board of a request that <see cref="Validate"/> passed.</summary>
    public static Board Read(IReadOnlyList<string?>? rows, string? rle, string? cells) =>
        Forms(rows, rle, cells).Single(form => form.Given).Parse();

    /// <summary>Why <paramref name="parse"/> fails, told without repeating the input; null when it parses.</summary>
    public static string? Problem(Func<Board> parse)
    {
        try
        {
            parse();
            return null;
        }
        catch (BoardFormatException e)
        {
            return BoardErrors.Describe(e);
        }
    }

    private static (string Field, bool Given, Func<Board> Parse)[] Forms(IReadOnlyList<string?>? rows, string? rle, string? cells) =>
    [
        ("board", rows is not null, () => Board.FromRows(rows)),
        ("rle", rle is not null, () => PatternFormats.ParseRle(rle!)),
        ("cells", cells is not null, () => PatternFormats.ParsePlaintext(cells!)),
    ];
}
