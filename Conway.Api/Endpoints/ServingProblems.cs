using System.Globalization;
using Conway.Api.Http;
using Conway.Api.Serving;
using Microsoft.AspNetCore.Http.HttpResults;
using Polly.CircuitBreaker;
using Polly.Timeout;

namespace Conway.Api.Endpoints;

/// <summary>
/// The answers for work the model did not do: 429 (queue full, or the answer predicted after the deadline), 503 (no model, circuit open, shutting down or drained), 504
/// (deadline passed, batch timed out). They say what happened and what to do, never the internals behind it.
/// </summary>
internal static class ServingProblems
{
    public static ProblemHttpResult ClientLimited(HttpResponse response, TimeSpan retryAfter, string detail) =>
        WithRetryAfter(response, retryAfter, Problems.Status(StatusCodes.Status429TooManyRequests, detail));

    public static ProblemHttpResult DeadlinePassed(TimeSpan deadline) => Problems.Status(StatusCodes.Status504GatewayTimeout,
        string.Create(CultureInfo.InvariantCulture, $"The deadline of {deadline.TotalMilliseconds:F0} ms passed before the model answered."));

    /// <summary>
    /// Recorded for a client that hung up before its answer (nginx's 499): nobody reads it, but logs and metrics then
    /// say what happened instead of a 200 nobody received.
    /// </summary>
    public static ProblemHttpResult ClientClosed() =>
        Problems.Status(StatusCodes.Status499ClientClosedRequest, "The client closed the connection before the answer.");

    /// <summary>The problem for a failed or cancelled wait for the model; null for anything else (a 500).</summary>
    public static ProblemHttpResult? From(Exception error, HttpResponse response, TimeSpan deadline, bool deadlinePassed) => error switch
    {
        OperationCanceledException when deadlinePassed => DeadlinePassed(deadline),
        OperationCanceledException when response.HttpContext.RequestAborted.IsCancellationRequested => ClientClosed(),
        TimeoutRejectedException => Problems.Status(StatusCodes.Status504GatewayTimeout,
            "The model did not finish this request's batch within its time limit (Model:BatchTimeoutMs)."),
        ModelBusyException busy => WithRetryAfter(response, busy.RetryAfter, Problems.Status(StatusCodes.Status429TooManyRequests, busy.Message)),
        BrokenCircuitException open => WithRetryAfter(response, open.RetryAfter ?? TimeSpan.FromSeconds(1), Problems.Status(StatusCodes.Status503ServiceUnavailable,
            "The model failed repeatedly, so the circuit breaker holds back new work for now; retry after the Retry-After seconds.")),
        ModelUnavailableException { RetryAfter: { } after } unavailable =>
            WithRetryAfter(response, after, Problems.Status(StatusCodes.Status503ServiceUnavailable, unavailable.Message)),
        ModelUnavailableException unavailable => Problems.Status(StatusCodes.Status503ServiceUnavailable, unavailable.Message),
        _ => null,
    };

    /// <summary>503 with Retry-After when the instance cannot take the work now (loading, shutting down).</summary>
    public static ProblemHttpResult Unavailable(HttpResponse response, ModelUnavailableException unavailable) => From(unavailable, response, TimeSpan.Zero, false)!;

    /// <summary>The problem, with <c>Retry-After</c> set unless the response has started (a rollout's stream ending with it).</summary>
    private static ProblemHttpResult WithRetryAfter(HttpResponse response, TimeSpan after, ProblemHttpResult problem)
    {
        if (!response.HasStarted) Problems.SetRetryAfter(response, after);
        return problem;
    }
}
