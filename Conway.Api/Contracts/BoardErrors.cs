using System.Text.RegularExpressions;
using Conway.Boards;

namespace Conway.Api.Contracts;

/// <summary>
/// Why a board (rows, RLE or plaintext) does not parse, without repeating it: the parsers' messages quote what they
/// read (an RLE header, its sizes or rule at any length, a cell's character), so those quotes are dropped here and the
/// place (row or line, column) is kept. Any other message is passed on only while it is short printable ASCII.
/// </summary>
internal static partial class BoardErrors
{
    public const string Unreadable = "The board could not be read.";
    private const int MaxMessage = 200;

    public static string Describe(BoardFormatException error)
    {
        string message = error.Message;
        foreach (var (pattern, says) in Quoting)
            if (pattern.Match(message) is { Success: true } match)
                return says(match);
        return message.Length <= MaxMessage && message.All(ch => ch is >= ' ' and <= '~')
            ? message
            : Place().Match(message) is { Success: true } place ? $"{place.Value}: {Unreadable}" : Unreadable;
    }

    /// <summary>The parsers' messages that quote their input, and what to say instead (from fixed text and numbers only).</summary>
    private static readonly (Regex Pattern, Func<Match, string> Says)[] Quoting =
    [
        (NotACell(), match => $"{match.Groups["at"].Value}: not a cell; {match.Groups["use"].Value}"),
        (NotRle(), match => $"{match.Groups["at"].Value}: not valid in an RLE body; {match.Groups["use"].Value}"),
        (BadHeader(), match => $"{match.Groups["at"].Value}: {match.Groups["expected"].Value}."),
        (NotAWholeNumber(), match => $"{match.Groups["at"].Value}: {match.Groups["key"].Value} in the header is not a whole number."),
        (UnsupportedRule(), match => $"{match.Groups["at"].Value}: the header's rule is not supported; {match.Groups["only"].Value}"),
        (TooLarge(), match => $"{match.Groups["at"].Value}: the header's size is larger than the {match.Groups["torus"].Value} torus."),
    ];

    [GeneratedRegex(@"^(?<at>(?:Row|Line) \d+, column \d+(?: \(cell \d+\))?): '.*' is not a cell; (?<use>use '[0.]' \(dead\) or '[1O]' \(alive\)\.)$", RegexOptions.Singleline)]
    private static partial Regex NotACell();

    [GeneratedRegex(@"^(?<at>Line \d+, column \d+): '.*' is not valid in an RLE body; (?<use>use b \(dead\), o \(alive\), \$ \(end of row\), run counts and ! \(end\)\.)$", RegexOptions.Singleline)]
    private static partial Regex NotRle();

    [GeneratedRegex(@"^(?<at>Line \d+): (?<expected>expected the RLE header 'x = <width>, y = <height>\[, rule = B3/S23\]'), found '.*'\.$", RegexOptions.Singleline)]
    private static partial Regex BadHeader();

    [GeneratedRegex(@"^(?<at>Line \d+): (?<key>[xy]) = '.*' is not a whole number\.$", RegexOptions.Singleline)]
    private static partial Regex NotAWholeNumber();

    [GeneratedRegex(@"^(?<at>Line \d+): rule '.*' is not supported; (?<only>only B3/S23 \(Conway's Life\) is\.)$", RegexOptions.Singleline)]
    private static partial Regex UnsupportedRule();

    [GeneratedRegex(@"^(?<at>Line \d+): the pattern is \d+x\d+; the torus is (?<torus>\d{1,3}x\d{1,3})\.$", RegexOptions.Singleline)]
    private static partial Regex TooLarge();

    [GeneratedRegex(@"^(?:Row|Line) \d{1,9}(?:, column \d{1,9})?")]
    private static partial Regex Place();
}
