using System.Globalization;

namespace Conway.Api.Serving;

/// <summary>
/// Admission refused a request (429): the queue holds its capacity in boards already, or the answer the service
/// predicts (from its live <see cref="ThroughputEstimate"/>) would come after the request's deadline. Nothing was
/// queued; <see cref="RetryAfter"/> is when the queue ahead is predicted to have drained enough.
/// </summary>
public sealed class ModelBusyException(string message, TimeSpan retryAfter) : Exception(message)
{
    public TimeSpan RetryAfter { get; } = retryAfter;

    internal static ModelBusyException From(Admission refusal, int boards, int capacity) => refusal switch
    {
        Admission.QueueFull full => new(string.Create(CultureInfo.InvariantCulture,
            $"The model's queue is full: {full.QueuedBoards} of its {capacity} boards are waiting, and this request has {boards}; " +
            $"it is predicted to have room in {Seconds(full.RetryAfter)} s."), full.RetryAfter),
        Admission.TooLate late => new(string.Create(CultureInfo.InvariantCulture,
            $"The answer is predicted in {Seconds(late.PredictedWait)} s with the work queued ahead, after this request's deadline of " +
            $"{Seconds(late.Deadline)} s; retry after {Seconds(late.RetryAfter)} s, or with a later deadline (deadlineMs) or fewer boards."), late.RetryAfter),
        _ => throw new ArgumentOutOfRangeException(nameof(refusal), refusal, "not a refusal for being busy"),
    };

    private static string Seconds(TimeSpan time) => time.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture);
}
