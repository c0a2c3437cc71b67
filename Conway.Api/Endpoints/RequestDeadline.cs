using System.Diagnostics;

namespace Conway.Api.Endpoints;

/// <summary>
/// A prediction request's deadline, which runs from its arrival: at first the header's (or the cap,
/// Model:MaxDeadlineMs), which already bounds the upload; once the body is read and admitted, the earliest of the
/// header's, the body's and the cap (<see cref="Deadlines.Resolve"/>). <see cref="Token"/> fires when it passes or
/// the client leaves.
/// </summary>
internal sealed class RequestDeadline : IDisposable
{
    private readonly int? _headerMs;
    private readonly int _maxMs;
    private readonly CancellationTokenSource _expiry;
    private readonly CancellationTokenSource _cancellation;

    /// <param name="arrived">When the request arrived, a <see cref="Stopwatch"/> timestamp.</param>
    /// <param name="headerMs">The <c>X-Deadline-Ms</c> header's milliseconds, if sent.</param>
    /// <param name="maxMs">Model:MaxDeadlineMs, the cap and the deadline when none is asked for.</param>
    /// <param name="requestAborted">Fires when the client leaves.</param>
    public RequestDeadline(long arrived, int? headerMs, int maxMs, CancellationToken requestAborted)
    {
        (Arrived, _headerMs, _maxMs) = (arrived, headerMs, maxMs);
        Deadline = Deadlines.Resolve(headerMs, null, maxMs);
        _expiry = new CancellationTokenSource(Deadline);
        _cancellation = CancellationTokenSource.CreateLinkedTokenSource(requestAborted, _expiry.Token);
    }

    public long Arrived { get; }

    /// <summary>How long after <see cref="Arrived"/> the answer is due.</summary>
    public TimeSpan Deadline { get; private set; }

    /// <summary>Fires when the deadline passes or the client leaves.</summary>
    public CancellationToken Token => _cancellation.Token;

    public bool Passed => _expiry.IsCancellationRequested;

    /// <summary>Narrows the deadline to the body's <paramref name="bodyMs"/>, if earlier; false when it has passed already.</summary>
    public bool ApplyBody(int? bodyMs)
    {
        Deadline = Deadlines.Resolve(_headerMs, bodyMs, _maxMs);
        var timeLeft = Deadlines.TimeLeft(Deadline, Stopwatch.GetElapsedTime(Arrived));   // computed once, never negative
        if (timeLeft == TimeSpan.Zero) return false;
        _expiry.CancelAfter(timeLeft);
        return true;
    }

    public void Dispose()
    {
        _cancellation.Dispose();
        _expiry.Dispose();
    }
}
