using System.Diagnostics;
using Conway.Api.Contracts;
using Conway.Api.Http;
using Conway.Api.Security;
using Conway.Api.Serving;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using JsonOptions = Microsoft.AspNetCore.Http.Json.JsonOptions;

namespace Conway.Api.Endpoints;

/// <summary>What the rollout endpoint needs from DI.</summary>
public sealed record RolloutServices(
    RolloutService Rollouts, ClientBoardLimiter Limiter, IOptions<ModelOptions> Model, IOptions<ApiOptions> Api, IOptions<JsonOptions> Json);

public static class RolloutEndpoints
{
    public static IEndpointRouteBuilder MapRolloutEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/rollout", RolloutAsync)
            .WithTags("Prediction")
            .WithName("Rollout")
            .WithSummary("Run the model for many generations from one board, streamed a generation a line")
            .WithDescription(
                "The board is exactly one of `board`, `rle` or `cells`, as for /predict, with the same decoding options. " +
                "`steps`: 1 to Model:MaxRolloutSteps (default 1000) generations. `feed`: `model` (default; each generation is " +
                "predicted from the model's previous output, the autoregressive rollout) or `rule` (from the rule's previous " +
                "state, so every generation measures one-step accuracy along the true trajectory). `deadlineMs` (or " +
                "X-Deadline-Ms) bounds the whole rollout; capped at, and by default, Model:MaxRolloutDeadlineMs. " +
                "Each generation is one line, written as it is produced: `application/x-ndjson` (the default, also for no " +
                "Accept or */*) or `text/event-stream` (`event: generation` / `event: end`, `data:` the same JSON); any other " +
                "Accept is 406. The last line is always the end line: `completed`, or `deadline` (504), `shutdown` (503), " +
                "`failed` or `busy` (429) with the problem details. Concurrent rollouts' generations are batched together " +
                "on the model. Errors before the first line are ordinary problem details: 400, 401, 406, 413, 415, 429 " +
                "(the queue is full, or Model:MaxRollouts rollouts run already; with Retry-After), 503, 504.")
            .Accepts<RolloutRequest>("application/json")
            .Produces<RolloutLine>(StatusCodes.Status200OK, RolloutStream.Ndjson, RolloutStream.EventStream)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status406NotAcceptable)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .ProducesProblem(StatusCodes.Status504GatewayTimeout)
            .RequireApiKey(app)
            .AddOpenApiOperationTransformer(RolloutExamples.Apply);
        return app;
    }

    /// <summary>406: the Accept header allows neither stream format.</summary>
    public static ProblemHttpResult NotAcceptable() => Problems.Status(StatusCodes.Status406NotAcceptable,
        $"A rollout is streamed as {RolloutStream.Ndjson} or {RolloutStream.EventStream}; the Accept header allows neither.");

    /// <summary>
    /// Negotiate the format, read and validate, take a board from the client's rate limit, start the rollout (its first
    /// generation admitted like a request), then stream it; or the problem from the first step that refuses.
    /// </summary>
    private static async Task<Results<RolloutStream, ProblemHttpResult>> RolloutAsync(HttpContext http, [AsParameters] RolloutServices services)
    {
        long arrived = Stopwatch.GetTimestamp();
        if (RolloutStream.Negotiate(http.Request) is not { } format)
            return Problems.WithIds(NotAcceptable(), http);
        var errors = new Dictionary<string, string[]>();
        using var deadline = new RequestDeadline(arrived, Deadlines.FromHeader(http.Request, errors), services.Model.Value.MaxRolloutDeadlineMs, http.RequestAborted);
        var (request, unread) = await JsonBody.ReadAsync<RolloutRequest>(http.Request, services.Api.Value.MaxRequestBodyBytes, services.Json.Value.SerializerOptions, deadline);
        if (unread is not null) return unread;
        if (PredictionInput.From(request!, errors) is not { } input) return Problems.Validation(errors);
        if (PredictEndpoints.Admit(http, services.Limiter, input, deadline) is { } refused) return refused;
        try
        {
            var plan = new RolloutPlan(input.Boards[0], request!.Steps, request.Feed, input.Model, input.Options);
            var rollout = services.Rollouts.Start(plan, http.TraceIdentifier, arrived, deadline.Deadline, http.RequestAborted);
            return new RolloutStream(rollout, format, services.Json.Value.SerializerOptions);
        }
        catch (Exception e) when (ServingProblems.From(e, http.Response, deadline.Deadline, deadline.Passed) is { } failed)
        {
            return failed;
        }
    }
}
