using Conway.Api.Contracts;
using Conway.Boards;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using JsonOptions = Microsoft.AspNetCore.Http.Json.JsonOptions;

namespace Conway.Api.Endpoints;

/// <summary>The pattern catalogue, and conversion between the board forms (rows, RLE, plaintext); no model involved.</summary>
public static class PatternEndpoints
{
    public static IEndpointRouteBuilder MapPatternEndpoints(this IEndpointRouteBuilder app)
    {
        var patterns = app.MapGroup("/patterns").WithTags("Patterns");

        patterns.MapGet("", List)
            .WithName("ListPatterns")
            .WithSummary("The named patterns, each centred on the 32x32 torus")
            .WithDescription("Still lifes, oscillators, spaceships and methuselahs, in catalogue order, with their rows and RLE.");

        patterns.MapPost("/convert", ConvertAsync)
            .WithName("ConvertPattern")
            .WithSummary("Read a board given as rows, RLE or plaintext and answer it as rows and RLE")
            .WithDescription(
                "The board is exactly one of `board` (32 rows of '0'/'1'), `rle` or `cells` (plaintext), as for `/predict`; " +
                "RLE and plaintext patterns are placed with their top-left corner at cell (0, 0). Invalid input gets the same " +
                "400 problem details as `/predict`.")
            .Accepts<PatternRequest>("application/json")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);

        return app;
    }

    private static readonly IReadOnlyList<PatternResponse> Catalogue =
        Patterns.Names.Select(name => ToResponse(Patterns.Named[name]) with { Name = name }).ToArray();

    public static Ok<IReadOnlyList<PatternResponse>> List() => TypedResults.Ok(Catalogue);

    public static async Task<Results<Ok<PatternResponse>, ProblemHttpResult>> ConvertAsync(
        HttpContext http, IOptions<ApiOptions> api, IOptions<JsonOptions> json)
    {
        var (request, problem) = await JsonBody.ReadAsync<PatternRequest>(
            http.Request, api.Value.MaxRequestBodyBytes, json.Value.SerializerOptions, http.RequestAborted);
        return problem ?? (Results<Ok<PatternResponse>, ProblemHttpResult>)TypedResults.Ok(ToResponse(BoardForms.Read(request!.Board, request.Rle, request.Cells)));
    }

    private static PatternResponse ToResponse(Board board) => new(board.ToRows(), board.Population, PatternFormats.ToRle(board));
}
