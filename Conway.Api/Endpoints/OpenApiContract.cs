using System.Globalization;
using System.Text.Json.Nodes;
using Conway.Api.Observability;
using Conway.Api.Security;
using Conway.Api.Serving;
using Conway.Boards;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;

namespace Conway.Api.Endpoints;

/// <summary>
/// The OpenAPI document as the contract of the live service: every limit the code enforces as a schema constraint
/// (limits from configuration as the running service has them), the problem details as they are written (with
/// <c>requestId</c> and <c>traceId</c>), the <c>X-Api-Key</c> scheme on the operations that require it, and the
/// response headers the service sets.
/// </summary>
internal static class OpenApiContract
{
    public const string ApiKeyScheme = "ApiKey";
    private const string BoardSchema = "Board";
    private static readonly string BoardRowPattern = $"^[01]{{{Board.Size}}}$";

    public static void Apply(OpenApiOptions options)
    {
        options.AddDocumentTransformer(DescribeDocument);
        options.AddOperationTransformer(DescribeOperation);
        options.AddOperationTransformer(ProblemExamples.Describe);
    }

    private static Task DescribeDocument(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken _)
    {
        document.Info.Title = "Conway LifeGPT API";
        document.Info.Description =
            "Next states of Conway's Game of Life on a 32x32 torus, predicted by LifeGPT and checked against the exact rule.";
        document.Servers = [new OpenApiServer { Url = "/", Description = "The service that serves this document." }];
        document.Tags = new HashSet<OpenApiTag>
        {
            new() { Name = "Prediction", Description = "The model's next states, each checked against the exact rule." },
            new() { Name = "Patterns", Description = "The named patterns, and conversion between board forms; no model involved." },
        };
        var components = document.Components ??= new OpenApiComponents();
        components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        components.SecuritySchemes[ApiKeyScheme] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.ApiKey,
            In = ParameterLocation.Header,
            Name = ApiKeyHandler.Header,
            Description = "One of the configured keys (Auth:ApiKeys); required only where an operation says so.",
        };
        var operations = document.Paths.Values.SelectMany(path => path.Operations?.Values.AsEnumerable() ?? []).ToList();
        var used = operations.SelectMany(operation => operation.Responses?.Values.AsEnumerable() ?? [])
            .SelectMany(response => response.Headers?.Keys.AsEnumerable() ?? []).ToHashSet();
        components.Headers = Headers.Where(header => used.Contains(header.Name)).ToDictionary(header => header.Name, header => (IOpenApiHeader)header.Header);
        if (!operations.Any(operation => operation.Security is { Count: > 0 })) components.SecuritySchemes.Remove(ApiKeyScheme);

        var schemas = components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
        int maxBoards = context.ApplicationServices.GetRequiredService<IOptions<ModelOptions>>().Value.MaxBoardsPerRequest;
        schemas[BoardSchema] = new OpenApiSchema
        {
            Type = JsonSchemaType.Array,
            Description = $"A board: {Board.Size} rows of {Board.Size} characters, '0' (dead) or '1' (alive).",
            MinItems = Board.Size,
            MaxItems = Board.Size,
            Items = new OpenApiSchema { Type = JsonSchemaType.String, Pattern = BoardRowPattern },
        };
        var board = new OpenApiSchemaReference(BoardSchema, document);
        foreach (string choice in new[] { "DecodeStrategy", "RolloutFeed", "RolloutEnd" })
            if (Find(schemas, choice) is OpenApiSchema names) names.Type = JsonSchemaType.String;
        foreach (string request in new[] { "PredictRequest", "PatternRequest", "RolloutRequest" })
            if (Find(schemas, request) is OpenApiSchema one)
            {
                SetProperty(one, "board", board);
                SetProperty(one, "rle", new OpenApiSchema { Type = JsonSchemaType.String, Description = Property(one, "rle")?.Description });
                SetProperty(one, "cells", new OpenApiSchema { Type = JsonSchemaType.String, Description = Property(one, "cells")?.Description });
                one.OneOf = [.. new[] { "board", "rle", "cells" }.Select(form => (IOpenApiSchema)new OpenApiSchema { Required = new HashSet<string> { form } })];
            }
        if (Find(schemas, "PredictBatchRequest") is OpenApiSchema batch)
        {
            SetProperty(batch, "boards", new OpenApiSchema
            {
                Type = JsonSchemaType.Array,
                Description = $"1 to {maxBoards} boards (Model:MaxBoardsPerRequest), predicted together.",
                MinItems = 1,
                MaxItems = maxBoards,
                Items = board,
            });
            batch.Required = new HashSet<string> { "boards" };
        }
        if (Find(schemas, "PredictResponse") is OpenApiSchema predicted)
        {
            DescribePrediction(predicted, board, "next");
            Constrain(predicted, "mismatchedCells", minimum: 0, maximum: Board.Cells);
            Constrain(predicted, "elapsedMs", minimum: 0);
            DescribeModel(predicted);
        }
        if (Find(schemas, "RolloutRequest") is OpenApiSchema rollout)
        {
            Constrain(rollout, "steps", minimum: 1, maximum: context.ApplicationServices.GetRequiredService<IOptions<ModelOptions>>().Value.MaxRolloutSteps);
            rollout.Required = new HashSet<string> { "steps" };
        }
        if (Find(schemas, "RolloutLineRolloutGenerationLine") is OpenApiSchema generation)
        {
            DescribePrediction(generation, board, "board");
            DescribeModel(generation);
            Constrain(generation, "step", minimum: 1);
            Constrain(generation, "firstDivergence", minimum: 1);
            generation.Required?.Add("type");
        }
        if (Find(schemas, "RolloutLineRolloutEndLine") is OpenApiSchema end)
        {
            Constrain(end, "steps", minimum: 0);
            Constrain(end, "firstDivergence", minimum: 1);
            SetProperty(end, "problem", new OpenApiSchemaReference("ProblemDetails", document));   // absent when completed, never null
            end.Required?.Add("type");
        }
        if (Find(schemas, "PredictBatchResponse") is OpenApiSchema answered)
        {
            Constrain(answered, "boards", minimum: 1, maximum: maxBoards);
            Constrain(answered, "matchingRule", minimum: 0, maximum: maxBoards);
        }
        if (Find(schemas, "PatternResponse") is OpenApiSchema pattern)
        {
            SetProperty(pattern, "board", board);
            Constrain(pattern, "population", minimum: 0, maximum: Board.Cells);
            if (Property(pattern, "name") is OpenApiSchema name) name.Type = JsonSchemaType.String;   // absent, never null
        }
        foreach (string problem in new[] { "ProblemDetails", "HttpValidationProblemDetails" })
            if (Find(schemas, problem) is OpenApiSchema details) DescribeProblem(details);
        return Task.CompletedTask;
    }

    /// <summary>Which model answered: its name, and its weights' version (hex).</summary>
    private static void DescribeModel(OpenApiSchema answer)
    {
        if (Property(answer, "model") is OpenApiSchema model) model.Pattern = ModelOptions.NamePattern;
        if (Property(answer, "modelVersion") is OpenApiSchema version) version.Pattern = $"^[0-9a-f]{{1,{ModelVersion.Length}}}$";
    }

    /// <summary>
    /// A prediction checked against the rule (a <c>/predict</c> result or a rollout's generation): its board (named
    /// <paramref name="next"/>) and the rule's, the differing cells as [row, column] on the board, the passes (an integer of at least 1) and
    /// P(alive) (32 rows of 32 probabilities), both absent rather than null.
    /// </summary>
    private static void DescribePrediction(OpenApiSchema predicted, IOpenApiSchema board, string next)
    {
        SetProperty(predicted, next, board);
        SetProperty(predicted, "rule", board);
        if (Property(predicted, "mismatches") is OpenApiSchema { Items: OpenApiSchema cell })
        {
            cell.MinItems = cell.MaxItems = 2;
            if (cell.Items is OpenApiSchema index) (index.Minimum, index.Maximum) = ("0", $"{Board.Size - 1}");
        }
        Constrain(predicted, "passes", minimum: 1);
        if (Property(predicted, "pAlive") is OpenApiSchema pAlive && pAlive.Items is OpenApiSchema row)
        {
            pAlive.Type = JsonSchemaType.Array;   // written only when asked for, never as null
            pAlive.MinItems = pAlive.MaxItems = row.MinItems = row.MaxItems = Board.Size;
            if (row.Items is OpenApiSchema p) (p.Minimum, p.Maximum) = ("0", "1");
        }
        if (Property(predicted, "passes") is OpenApiSchema passes) passes.Type = JsonSchemaType.Integer;
    }

    /// <summary>
    /// RFC 9457 as the service writes it: title, status and detail always (never null), type for every status RFC 9110
    /// defines (so not for 429), and the request's id
    /// (<c>requestId</c>, as in <c>X-Request-Id</c>) and trace id (<c>traceId</c>); nothing else but a 400's <c>errors</c>.
    /// </summary>
    private static void DescribeProblem(OpenApiSchema details)
    {
        details.Properties ??= new Dictionary<string, IOpenApiSchema>();
        details.Properties["type"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "A URI that identifies the kind of problem." };
        details.Properties["title"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "The status code's reason phrase; for a 400, 'One or more validation errors occurred.'" };
        details.Properties["status"] = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32", Minimum = "400", Maximum = "599" };
        details.Properties["detail"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "What went wrong, and what to do; never repeats the body." };
        details.Properties.Remove("instance");
        details.Properties["requestId"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "The request's id, as in the X-Request-Id response header and the logs." };
        details.Properties["traceId"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "The W3C trace id of the request." };
        details.Required = new HashSet<string> { "title", "status", "detail", "requestId", "traceId" };
        details.AdditionalPropertiesAllowed = false;
    }

    /// <summary>The operation's API key requirement (only when the service runs with keys), parameters, 401 and headers.</summary>
    private static Task DescribeOperation(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken _)
    {
        var document = context.Document!;
        bool keyed = context.Description.ActionDescriptor.EndpointMetadata.OfType<IAuthorizeData>().Any();
        operation.Security = keyed
            ? [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(ApiKeyScheme, document)] = [] }]
            : [];
        operation.Responses ??= [];
        if (keyed)
            operation.Responses[StatusCodes.Status401Unauthorized.ToString(CultureInfo.InvariantCulture)] = new OpenApiResponse
            {
                Description = $"No API key, or a wrong one, in {ApiKeyHandler.Header}.",
                Content = ProblemContent(document),
            };
        else
            operation.Responses.Remove(StatusCodes.Status401Unauthorized.ToString(CultureInfo.InvariantCulture));

        operation.Parameters ??= [];
        operation.Parameters.Add(new OpenApiParameter
        {
            Name = RequestIds.Header,
            In = ParameterLocation.Header,
            Description = "The request's id for the logs and problem details; echoed. Used when it is 1 to 64 letters, digits and ._:- (else one is made).",
            Schema = new OpenApiSchema { Type = JsonSchemaType.String },
        });
        if (context.Description.RelativePath is { } path && (path.StartsWith("predict", StringComparison.Ordinal) || path == "rollout"))
            operation.Parameters.Add(new OpenApiParameter
            {
                Name = Deadlines.Header,
                In = ParameterLocation.Header,
                Description = path == "rollout"
                    ? "End the rollout (504) when it has not finished within this many milliseconds of arrival; capped at Model:MaxRolloutDeadlineMs."
                    : "Give up (504) when there is no answer within this many milliseconds of arrival; capped at Model:MaxDeadlineMs.",
                Schema = new OpenApiSchema { Type = JsonSchemaType.Integer, Minimum = "1", Maximum = $"{int.MaxValue}" },
            });

        foreach (var (status, response) in operation.Responses)
        {
            if (response is not OpenApiResponse concrete) continue;
            concrete.Headers ??= new Dictionary<string, IOpenApiHeader>();
            foreach (string header in HeadersOf(status, operation.OperationId))
                concrete.Headers[header] = new OpenApiHeaderReference(header, document);
        }
        return Task.CompletedTask;
    }

    /// <summary>The headers every response of <paramref name="status"/> carries (<see cref="Headers"/>).</summary>
    internal static IEnumerable<string> HeadersOf(string status, string? operationId)
    {
        yield return RequestIds.Header;
        if (status == "200" && operationId is "Predict" or "PredictBatch")
        {
            yield return ModelVersionHeader;
            yield return ServerTimingHeader;
        }
        if (status == "429") yield return RetryAfterHeader;
        if (status == "401") yield return WwwAuthenticateHeader;
    }

    public const string ModelVersionHeader = "X-Model-Version";
    public const string ServerTimingHeader = "Server-Timing";
    public const string RetryAfterHeader = "Retry-After";
    public const string WwwAuthenticateHeader = "WWW-Authenticate";

    private static readonly (string Name, OpenApiHeader Header)[] Headers =
    [
        (RequestIds.Header, new OpenApiHeader { Required = true, Description = "The request's id (the client's X-Request-Id when usable).", Schema = new OpenApiSchema { Type = JsonSchemaType.String } }),
        (ModelVersionHeader, new OpenApiHeader { Required = true, Description = "The model that answered and its weights: `name@version`, the version being its checkpoint's SHA-256, first 12 hex digits.", Schema = new OpenApiSchema { Type = JsonSchemaType.String } }),
        (ServerTimingHeader, new OpenApiHeader { Required = true, Description = "queue, inference and total, in ms.", Schema = new OpenApiSchema { Type = JsonSchemaType.String } }),
        (RetryAfterHeader, new OpenApiHeader { Required = true, Description = "Whole seconds to wait before retrying.", Schema = new OpenApiSchema { Type = JsonSchemaType.Integer, Minimum = "1" } }),
        (WwwAuthenticateHeader, new OpenApiHeader { Required = true, Description = $"The {ApiKeyHandler.Header} scheme.", Schema = new OpenApiSchema { Type = JsonSchemaType.String } }),
    ];

    private static Dictionary<string, OpenApiMediaType> ProblemContent(OpenApiDocument document) => new()
    {
        ["application/problem+json"] = new OpenApiMediaType { Schema = new OpenApiSchemaReference("ProblemDetails", document) },
    };

    private static IOpenApiSchema? Property(OpenApiSchema schema, string name) => schema.Properties is { } properties ? Find(properties, name) : null;

    private static IOpenApiSchema? Find(IDictionary<string, IOpenApiSchema> schemas, string name) => schemas.TryGetValue(name, out var schema) ? schema : null;

    private static void SetProperty(OpenApiSchema schema, string name, IOpenApiSchema value)
    {
        if (schema.Properties?.ContainsKey(name) == true) schema.Properties[name] = value;
    }

    private static void Constrain(OpenApiSchema schema, string name, double? minimum = null, double? maximum = null)
    {
        if (Property(schema, name) is not OpenApiSchema property) return;
        if (minimum is { } min) property.Minimum = min.ToString(CultureInfo.InvariantCulture);
        if (maximum is { } max) property.Maximum = max.ToString(CultureInfo.InvariantCulture);
    }
}
