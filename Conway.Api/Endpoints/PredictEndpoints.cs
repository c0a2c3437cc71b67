using System.Diagnostics;
using System.Globalization;
using Conway.Api.Contracts;
using Conway.Api.Http;
using Conway.Api.Security;
using Conway.Api.Serving;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using JsonOptions = Microsoft.AspNetCore.Http.Json.JsonOptions;

namespace Conway.Api.Endpoints;

/// <summary>What the prediction endpoints need from DI.</summary>
public sealed record PredictServices(
    PredictionService Predictions, ClientBoardLimiter Limiter, IOptions<ModelOptions> Model, IOptions<ApiOptions> Api, IOptions<JsonOptions> Json);

public static class PredictEndpoints
{
    private const string Body =
        "Options in the body: `strategy` speculative (default) or autoregressive; `temperature` 0 to 2 (default 0, greedy); " +
        "`topK` 1 to 256 (default 26); `seed` (integer, optional); `probabilities` (default false) adds `pAlive`. " +
        "Unknown fields, wrong JSON types and out-of-range values get 400 problem details naming the field (`$` for the body as a whole). " +
        "Each result carries the exact rule's next state and where the model differs from it. " +
        "`deadlineMs` (or the header X-Deadline-Ms) bounds the wait: past it the answer is 504. With API keys configured, " +
        "send one in X-Api-Key. Responses carry X-Model-Version, X-Request-Id and Server-Timing (queue, inference, total).";

    public static IEndpointRouteBuilder MapPredictEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/predict")
            .WithTags("Prediction")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .ProducesProblem(StatusCodes.Status504GatewayTimeout)
            .RequireApiKey(app);

        api.MapPost("", PredictAsync)
            .WithName("Predict")
            .WithSummary("Predict the next state of one board")
            .WithDescription(
                "The board is exactly one of `board` (32 rows of 32 characters '0'/'1'), `rle` (an RLE pattern) or " +
                "`cells` (a plaintext .cells pattern), placed on the 32x32 torus. Concurrent requests are batched " +
                "onto the model; when its queue is full the answer is 429 with Retry-After. " + Body)
            .Accepts<PredictRequest>("application/json")
            .AddOpenApiOperationTransformer(PredictExamples.Single);

        api.MapPost("/batch", PredictBatchAsync)
            .WithName("PredictBatch")
            .WithSummary("Predict the next states of several boards in one model batch")
            .WithDescription("`boards` holds 1 to Model:MaxBoardsPerRequest (default 256) boards of 32 rows; they go to the model together. " + Body)
            .Accepts<PredictBatchRequest>("application/json")
            .AddOpenApiOperationTransformer(PredictExamples.Batch);

        return app;
    }

    public static Task<Results<Ok<PredictResponse>, ProblemHttpResult>> PredictAsync(HttpContext http, [AsParameters] PredictServices services) =>
        ServeAsync<PredictRequest, PredictResponse>(http, services,
            (request, errors) => PredictionInput.From(request, errors),
            (input, result) => PredictResponses.Single(result.Boards[0], input.Options.Strategy, result));

    public static Task<Results<Ok<PredictBatchResponse>, ProblemHttpResult>> PredictBatchAsync(HttpContext http, [AsParameters] PredictServices services) =>
        ServeAsync<PredictBatchRequest, PredictBatchResponse>(http, services,
            (request, errors) => PredictionInput.From(request, errors),
            (input, result) => PredictResponses.Batch(input.Options.Strategy, result));

    /// <summary>
    /// Read, validate, take the boards from the client's rate limit, hand them to the <see cref="PredictionService"/>
    /// with the request's deadline, and answer with <c>X-Model-Version</c> and <c>Server-Timing</c>; or the problem
    /// from the first step that refuses.
    /// </summary>
    private static async Task<Results<Ok<TResponse>, ProblemHttpResult>> ServeAsync<TRequest, TResponse>(
        HttpContext http,
        PredictServices services,
        Func<TRequest, Dictionary<string, string[]>, PredictionInput?> validate,
        Func<PredictionInput, PredictionResult, TResponse> respond) where TRequest : class
    {
        long arrived = Stopwatch.GetTimestamp();
        var errors = new Dictionary<string, string[]>();
        using var deadline = new RequestDeadline(arrived, Deadlines.FromHeader(http.Request, errors), services.Model.Value.MaxDeadlineMs, http.RequestAborted);
        var (request, unread) = await JsonBody.ReadAsync<TRequest>(http.Request, services.Api.Value.MaxRequestBodyBytes, services.Json.Value.SerializerOptions, deadline);
        if (unread is not null) return unread;
        if (validate(request!, errors) is not { } input) return Problems.Validation(errors);
        if (Admit(http, services.Limiter, input, deadline) is { } refused) return refused;
        var (result, failed) = await WaitForPredictionsAsync(http, services.Predictions, input, deadline);
        if (failed is not null) return failed;
        SetHeaders(http.Response, result!);
        return TypedResults.Ok(respond(input, result!));
    }

    /// <summary>
    /// Takes the boards from the client's rate limit and narrows the deadline to the body's; null when both let the
    /// request through, else 429 with Retry-After, or 504 when the deadline has passed already.
    /// </summary>
    internal static ProblemHttpResult? Admit(HttpContext http, ClientBoardLimiter limiter, PredictionInput input, RequestDeadline deadline)
    {
        if (limiter.TryTake(http, input.Boards.Count) is { } retryAfter)
            return ServingProblems.ClientLimited(http.Response, retryAfter, limiter.Describe());
        return deadline.ApplyBody(input.DeadlineMs) ? null : ServingProblems.DeadlinePassed(deadline.Deadline);
    }

    /// <summary>The checked predictions; or the problem for work the model did not do (anything else throws: a 500).</summary>
    private static async Task<(PredictionResult? Result, ProblemHttpResult? Problem)> WaitForPredictionsAsync(
        HttpContext http, PredictionService predictions, PredictionInput input, RequestDeadline deadline)
    {
        try
        {
            return (await predictions.PredictAsync(input.Boards, input.Model, input.Options, http.TraceIdentifier, deadline.Arrived, deadline.Deadline, deadline.Token), null);
        }
        catch (Exception e) when (ServingProblems.From(e, http.Response, deadline.Deadline, deadline.Passed) is { } failed)
        {
            return (null, failed);
        }
    }

    /// <summary><c>X-Model-Version</c> (<c>name@version</c>), and <c>Server-Timing</c>: queue, inference and total, in ms.</summary>
    private static void SetHeaders(HttpResponse response, PredictionResult result)
    {
        response.Headers["X-Model-Version"] = ModelVersion.Header(result.Model, result.Info);
        response.Headers["Server-Timing"] = string.Create(CultureInfo.InvariantCulture,
            $"queue;dur={result.QueueWait.TotalMilliseconds:F1}, inference;dur={result.Inference.TotalMilliseconds:F1}, total;dur={result.Total.TotalMilliseconds:F1}");
    }
}
