using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Conway.Api.Contracts;
using Conway.Api.Http;
using Conway.Api.Security;
using Conway.Api.Serving;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;

namespace Conway.Api.Endpoints;

/// <summary>
/// OpenAPI examples of the problem details every operation documents, each made by the code that makes the live one
/// (the request validation, <see cref="JsonBody"/>, <see cref="ServingProblems"/>, the API key handler's words) and
/// written as a live one is: executed into a request of its own, through the service's <see cref="IProblemDetailsService"/>
/// (type, title, <c>traceId</c> of the request's activity, <c>requestId</c>).
/// </summary>
internal static class ProblemExamples
{
    private const string ProblemJson = "application/problem+json";

    /// <summary>The client's deadline in the 504 example (<c>X-Deadline-Ms</c> or <c>deadlineMs</c>).</summary>
    private static readonly TimeSpan ExampleDeadline = TimeSpan.FromSeconds(2);

    public static async Task Describe(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken _)
    {
        var services = context.ApplicationServices;
        var request = context.Description.ActionDescriptor.EndpointMetadata.OfType<IAcceptsMetadata>().FirstOrDefault()?.RequestType;
        foreach (var (status, response) in operation.Responses ?? [])
            if (response is OpenApiResponse { Content: { } content } && content.TryGetValue(ProblemJson, out var media)
                && Problem(int.Parse(status, CultureInfo.InvariantCulture), request, services) is { } problem)
                media.Example = await WriteAsync(services, problem);
    }

    /// <summary>How the live service makes the problem of <paramref name="status"/>; null where it has no example.</summary>
    private static Func<HttpContext, Task<ProblemHttpResult>>? Problem(int status, Type? request, IServiceProvider services) => status switch
    {
        StatusCodes.Status400BadRequest when InvalidRequest(request) is { } invalid => invalid,
        StatusCodes.Status401Unauthorized => _ => Task.FromResult(Problems.Status(status, ApiKeyHandler.NoKey)),
        StatusCodes.Status406NotAcceptable => _ => Task.FromResult(RolloutEndpoints.NotAcceptable()),
        StatusCodes.Status403Forbidden => _ => Task.FromResult(Problems.Status(status, SecurityExtensions.AdministrationNeedsKeys)),
        StatusCodes.Status404NotFound => _ => Task.FromResult(ModelEndpoints.UnknownModel(services.GetRequiredService<IOptions<ModelOptions>>().Value.Served())),
        StatusCodes.Status422UnprocessableEntity => _ => Task.FromResult(ModelEndpoints.NotReloaded(
            $"Model {services.GetRequiredService<IOptions<ModelOptions>>().Value.Served()[0].Name} failed its self-test on cuda:0: glider differ from the rule.")),
        StatusCodes.Status413PayloadTooLarge => _ =>
            Task.FromResult(JsonBody.TooLarge(services.GetRequiredService<IOptions<ApiOptions>>().Value.MaxRequestBodyBytes)),
        StatusCodes.Status415UnsupportedMediaType => _ => Task.FromResult(JsonBody.NotJson("text/plain")),
        StatusCodes.Status429TooManyRequests => http => Task.FromResult(Failed(http, QueueFull(services))),
        StatusCodes.Status503ServiceUnavailable => http => Task.FromResult(Failed(http, ModelUnavailableException.Loading())),
        StatusCodes.Status504GatewayTimeout => http => Task.FromResult(Failed(http, new OperationCanceledException(), deadlinePassed: true)),
        _ => null,
    };

    /// <summary>A request of <paramref name="type"/> with one row a character short, refused by the live validation.</summary>
    private static Func<HttpContext, Task<ProblemHttpResult>>? InvalidRequest(Type? type)
    {
        IReadOnlyList<string?> rows = [.. PredictExamples.Glider.ToRows().Select((row, r) => r == 2 ? row[..^1] : row)];
        return type switch
        {
            _ when type == typeof(PredictRequest) => http => Refused(new PredictRequest { Board = rows }, http),
            _ when type == typeof(PredictBatchRequest) => http => Refused(new PredictBatchRequest { Boards = [PredictExamples.Blinker.ToRows(), rows] }, http),
            _ when type == typeof(PatternRequest) => http => Refused(new PatternRequest { Board = rows }, http),
            _ when type == typeof(RolloutRequest) => http => Refused(new RolloutRequest { Board = rows, Steps = 2 }, http),
            _ => null,
        };
    }

    private static async Task<ProblemHttpResult> Refused<T>(T request, HttpContext http) where T : class
    {
        var errors = await RequestValidation.ErrorsAsync(request, http);
        return errors.Count > 0 ? Problems.Validation(errors) : throw new InvalidOperationException($"The invalid {typeof(T).Name} example passed validation.");
    }

    /// <summary>A full queue: as many boards waiting as it holds, and a request of one more.</summary>
    private static ModelBusyException QueueFull(IServiceProvider services)
    {
        int capacity = services.GetRequiredService<IOptions<ModelOptions>>().Value.QueueCapacity;
        return ModelBusyException.From(new Admission.QueueFull(capacity, TimeSpan.FromSeconds(0.8)), boards: 1, capacity);
    }

    private static ProblemHttpResult Failed(HttpContext http, Exception error, bool deadlinePassed = false) =>
        ServingProblems.From(error, http.Response, ExampleDeadline, deadlinePassed)
        ?? throw new InvalidOperationException($"{error.GetType().Name} is not a problem the endpoints answer with.");

    /// <summary>
    /// The body the service writes for the problem: made and executed in a request of its own, with an activity of
    /// its own (as a live request has), so the service's problem details writer and its customisation fill it in.
    /// </summary>
    private static async Task<JsonNode?> WriteAsync(IServiceProvider services, Func<HttpContext, Task<ProblemHttpResult>> problem)
    {
        var http = new DefaultHttpContext { RequestServices = services };
        using var body = new MemoryStream();
        http.Response.Body = body;
        Activity.Current = null;   // not the document request's: a request's own (this async call's context only)
        using var activity = new Activity("Conway.Api.OpenApiExample").SetIdFormat(ActivityIdFormat.W3C).Start();
        await (await problem(http)).ExecuteAsync(http);
        await http.Response.CompleteAsync();
        return JsonNode.Parse(body.ToArray());
    }
}
