using System.Diagnostics;
using Conway.Boards;
using Conway.Decoding;
using Polly.CircuitBreaker;

namespace Conway.Api.Serving;

/// <summary>A request's predictions, each checked against the rule, with the model that made them and the time taken.</summary>
/// <param name="Boards">One per board, in request order.</param>
/// <param name="Model">The name of the model that answered.</param>
/// <param name="Info">What that model loaded (file, hash, device).</param>
/// <param name="QueueWait">From the request's arrival at the queue to the start of its first batch.</param>
/// <param name="Inference">The time of its batches on the model, summed.</param>
/// <param name="Total">From the request's arrival to its answer, queueing included.</param>
public sealed record PredictionResult(
    IReadOnlyList<CheckedPrediction> Boards, string Model, ModelInfo Info, TimeSpan QueueWait, TimeSpan Inference, TimeSpan Total);

/// <summary>
/// Predicts a validated request's boards: submits them to the <see cref="ModelHost"/> as one work item with the
/// request's deadline, waits for the answer, checks each prediction against the exact rule and counts the checks in
/// <see cref="ServingMetrics"/>.
/// </summary>
public sealed class PredictionService(ModelHost host, ServingMetrics metrics)
{
    /// <summary>
    /// Throws what <see cref="ModelHost.Submit"/>'s task faults with (<see cref="ModelBusyException"/>,
    /// <see cref="ModelUnavailableException"/>, <see cref="BrokenCircuitException"/>, or the predictor's failure), and
    /// <see cref="OperationCanceledException"/> when <paramref name="cancellation"/> (client gone or deadline passed) fires.
    /// </summary>
    /// <param name="boards">The request's boards, validated.</param>
    /// <param name="model">The model's name, validated; null: the default model.</param>
    /// <param name="options">How to decode them.</param>
    /// <param name="requestId">The request's id, for the logs.</param>
    /// <param name="arrived">When the request arrived (a <see cref="Stopwatch"/> timestamp): its deadline and total time run from then.</param>
    /// <param name="deadline">How long after <paramref name="arrived"/> the answer is still wanted.</param>
    /// <param name="cancellation">Fires when the client leaves or the deadline passes.</param>
    public async Task<PredictionResult> PredictAsync(
        IReadOnlyList<Board> boards, string? model, DecodeOptions options, string requestId, long arrived, TimeSpan deadline, CancellationToken cancellation)
    {
        var queued = host.Submit(boards, model, options, requestId, arrived + (long)(deadline.TotalSeconds * Stopwatch.Frequency), cancellation);
        var served = await queued.WaitAsync(cancellation);
        var total = Stopwatch.GetElapsedTime(arrived);
        CheckedPrediction[] checks = [.. boards.Select((board, i) => CheckedPrediction.Of(board, served.Predictions[i]))];
        metrics.Checked(served.Model, checks.Length, checks.Count(check => check.MatchesRule), checks.Sum(check => check.Mismatches.Count));
        return new PredictionResult(checks, served.Model, served.Info, served.QueueWait, served.Inference, total);
    }
}
