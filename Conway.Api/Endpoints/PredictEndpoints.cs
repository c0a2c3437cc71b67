using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using Conway.Api.Contracts;
using Conway.Api.Http;
using Conway.Api.Security;
using Conway.Api.Serving;
using Conway.Boards;
using Conway.Decoding;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using JsonOptions = Microsoft.AspNetCore.Http.Json.JsonOptions;

namespace Conway.Api.Endpoints;

/// <summary>What the prediction endpoints need from DI.</summary>
public sealed record PredictServices(
    ModelHost Worker, ServingMetrics Metrics, ClientBoardLimiter Limiter, IOptions<ModelOptions> Model, IOptions<ApiOptions> Api,
    IOptions<JsonOptions> Json);

public static class PredictEndpoints
{
    private const string Body =
        "Options in the body: `strategy` speculative (default) or autoregressive; `temperature` 0 to 2 (default 0, greedy); " +
        "`topK` 1 to 256 (default 26); `seed` (integer, optional); `probabilities` (default false) adds `pAlive`. " +
        "Unknown fields, wrong JSON types and out-of-range values get 400 problem details naming the field. " +
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
            (input, predictions, model, elapsedMs) => ToResponse(input.Boards[0], predictions[0], input.Options.Strategy, model, elapsedMs),
            response => [response]);

    public static Task<Results<Ok<PredictBatchResponse>, ProblemHttpResult>> PredictBatchAsync(HttpContext http, [AsParameters] PredictServices services) =>
        ServeAsync<PredictBatchRequest, PredictBatchResponse>(http, services,
            (request, errors) => PredictionInput.From(request, errors),
            (input, predictions, model, elapsedMs) => ToBatchResponse(input.Boards, predictions, input.Options.Strategy, model, elapsedMs),
            response => response.Results);

    /// <summary>
    /// Read, validate, queue as one work item with its deadline, wait for the model (or the deadline, or the client
    /// leaving), answer with <c>X-Model-Version</c> and <c>Server-Timing</c> (queue, inference and total, in ms).
    /// </summary>
    private static async Task<Results<Ok<TResponse>, ProblemHttpResult>> ServeAsync<TRequest, TResponse>(
        HttpContext http,
        PredictServices services,
        Func<TRequest, Dictionary<string, string[]>, PredictionInput?> validate,
        Func<PredictionInput, IReadOnlyList<Prediction>, string, double, TResponse> respond,
        Func<TResponse, IReadOnlyList<PredictResponse>> results) where TRequest : class
    {
        long started = Stopwatch.GetTimestamp();
        int maxDeadlineMs = services.Model.Value.MaxDeadlineMs;
        var errors = new Dictionary<string, string[]>();
        int? headerDeadline = Deadlines.FromHeader(http.Request, errors);
        // the deadline runs from arrival: the header's (or the cap) already bounds the upload, the body's applies once read
        var deadline = Deadlines.Resolve(headerDeadline, null, maxDeadlineMs);
        using var expiry = new CancellationTokenSource(deadline);
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, expiry.Token);
        TRequest? request;
        try
        {
            (request, var problem) = await JsonBody.ReadAsync<TRequest>(
                http.Request, services.Api.Value.MaxRequestBodyBytes, services.Json.Value.SerializerOptions, cancellation.Token);
            if (problem is not null) return problem;
        }
        catch (OperationCanceledException)
        {
            return expiry.IsCancellationRequested ? ServingProblems.DeadlinePassed(deadline) : ServingProblems.ClientClosed();
        }
        if (validate(request!, errors) is not { } input) return Problems.Validation(errors);

        if (services.Limiter.TryTake(http, input.Boards.Count) is { } retryAfter)
            return ServingProblems.ClientLimited(http.Response, retryAfter, services.Limiter.Describe());
        deadline = Deadlines.Resolve(headerDeadline, input.DeadlineMs, maxDeadlineMs);
        var timeLeft = Deadlines.TimeLeft(deadline, Stopwatch.GetElapsedTime(started));   // computed once, never negative
        if (timeLeft == TimeSpan.Zero) return ServingProblems.DeadlinePassed(deadline);
        expiry.CancelAfter(timeLeft);
        var queued = services.Worker.Submit(input.Boards, input.Options, http.TraceIdentifier,
            started + (long)(deadline.TotalSeconds * Stopwatch.Frequency), cancellation.Token);

        Served served;
        try
        {
            served = await queued.WaitAsync(cancellation.Token);
        }
        catch (Exception e) when (ServingProblems.From(e, http.Response, deadline, expiry.IsCancellationRequested) is { } failed)
        {
            return failed;
        }

        var total = Stopwatch.GetElapsedTime(started);
        string model = ModelVersion.Of(served.Model);
        http.Response.Headers["X-Model-Version"] = model;
        http.Response.Headers["Server-Timing"] = ServerTiming(served.QueueWait, served.Inference, total);
        var response = respond(input, served.Predictions, model, total.TotalMilliseconds);
        var checkedResults = results(response);
        services.Metrics.Checked(checkedResults.Count, checkedResults.Count(result => result.MatchesRule), checkedResults.Sum(result => result.MismatchedCells));
        return TypedResults.Ok(response);
    }

    private static string ServerTiming(TimeSpan queue, TimeSpan inference, TimeSpan total) => string.Create(CultureInfo.InvariantCulture,
        $"queue;dur={queue.TotalMilliseconds:F1}, inference;dur={inference.TotalMilliseconds:F1}, total;dur={total.TotalMilliseconds:F1}");

    internal static PredictBatchResponse ToBatchResponse(
        IReadOnlyList<Board> boards, IReadOnlyList<Prediction> predictions, DecodeStrategy strategy, string model, double elapsedMs)
    {
        var results = boards.Select((board, i) => ToResponse(board, predictions[i], strategy, model, elapsedMs)).ToList();
        return new PredictBatchResponse(results, results.Count, results.Count(result => result.MatchesRule));
    }

    internal static PredictResponse ToResponse(Board input, Prediction prediction, DecodeStrategy strategy, string model, double elapsedMs)
    {
        var rule = LifeRule.Step(input);
        var mismatches = new List<int[]>();
        uint[] predicted = prediction.Next.ToWords(), exact = rule.ToWords();
        for (int r = 0; r < Board.Size; r++)
            for (uint differ = predicted[r] ^ exact[r]; differ != 0; differ &= differ - 1)   // bit c = column c, in order
                mismatches.Add([r, BitOperations.TrailingZeroCount(differ)]);
        return new PredictResponse(
            prediction.Next.ToRows(), rule.ToRows(), mismatches.Count == 0, mismatches.Count, mismatches, strategy, model, Math.Round(elapsedMs, 3))
        {
            PAlive = prediction.PAlive?.Chunk(Board.Size).ToArray(),
            Passes = prediction.Passes,
        };
    }
}
