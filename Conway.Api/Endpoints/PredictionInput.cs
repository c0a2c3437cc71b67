using System.Globalization;
using Conway.Api.Contracts;
using Conway.Boards;
using Conway.Decoding;

namespace Conway.Api.Endpoints;

/// <summary>A validated request: the boards to predict, how to decode them, and the deadline the body asked for.</summary>
internal sealed record PredictionInput(IReadOnlyList<Board> Boards, DecodeOptions Options, int? DeadlineMs)
{
    public const float MaxTemperature = 2f;
    public const int MaxTopK = 256;

    /// <summary>The board from exactly one of board, rle or cells; null when <paramref name="errors"/> got entries.</summary>
    public static PredictionInput? From(PredictRequest request, Dictionary<string, string[]> errors)
    {
        Board? board = ReadBoard(request.Board, request.Rle, request.Cells, errors);
        var options = ToDecodeOptions(request, errors);
        return errors.Count == 0 ? new PredictionInput([board!], options, request.DeadlineMs) : null;
    }

    /// <summary>The board from exactly one of its three forms; null when <paramref name="errors"/> got an entry for it.</summary>
    public static Board? ReadBoard(IReadOnlyList<string?>? rows, string? rle, string? cells, Dictionary<string, string[]> errors)
    {
        var forms = new (string Field, bool Given, Func<Board> Parse)[]
        {
            ("board", rows is not null, () => Board.FromRows(rows)),
            ("rle", rle is not null, () => PatternFormats.ParseRle(rle!)),
            ("cells", cells is not null, () => PatternFormats.ParsePlaintext(cells!)),
        };
        var given = forms.Where(form => form.Given).ToList();
        Board? board = given is [var only] ? TryParse(only.Field, only.Parse, errors) : null;
        if (given.Count != 1)
            errors["$"] = [$"Give the board as exactly one of 'board', 'rle' or 'cells'; got {(given.Count == 0 ? "none" : string.Join(" and ", given.Select(form => $"'{form.Field}'")))}."];
        return board;
    }

    /// <summary>1 to <paramref name="maxBoards"/> boards; null when <paramref name="errors"/> got entries.</summary>
    public static PredictionInput? From(PredictBatchRequest request, int maxBoards, Dictionary<string, string[]> errors)
    {
        var boards = new List<Board>();
        if (request.Boards is not { Count: > 0 } given || given.Count > maxBoards)
            errors["boards"] = [$"Give 1 to {maxBoards} boards; got {request.Boards?.Count ?? 0}."];
        else
            for (int i = 0; i < given.Count; i++)
                if (TryParse($"boards[{i}]", () => Board.FromRows(given[i]), errors) is { } board) boards.Add(board);
        var options = ToDecodeOptions(request, errors);
        return errors.Count == 0 ? new PredictionInput(boards, options, request.DeadlineMs) : null;
    }

    private static Board? TryParse(string field, Func<Board> parse, Dictionary<string, string[]> errors)
    {
        try
        {
            return parse();
        }
        catch (BoardFormatException e)
        {
            errors[field] = [BoardErrors.Describe(e)];
            return null;
        }
    }

    private static DecodeOptions ToDecodeOptions(DecodeRequest request, Dictionary<string, string[]> errors)
    {
        if (request.Temperature is not (>= 0f and <= MaxTemperature))
            errors["temperature"] = [string.Create(CultureInfo.InvariantCulture, $"Must be from 0 to {MaxTemperature}; got {request.Temperature}.")];
        if (request.TopK is < 1 or > MaxTopK)
            errors["topK"] = [$"Must be from 1 to {MaxTopK}; got {request.TopK}."];
        if (request.DeadlineMs is < 1)
            errors["deadlineMs"] = [$"Must be at least 1 (milliseconds); got {request.DeadlineMs}."];
        return new DecodeOptions
        {
            Strategy = request.Strategy,
            Temperature = request.Temperature,
            TopK = request.TopK,
            Seed = request.Seed,
            IncludeProbabilities = request.Probabilities,
        };
    }
}
