using System.Diagnostics;
using Conway.Boards;
using Conway.Decoding;

namespace Conway.Api.Serving;

/// <summary>A request's answer from the model, with which model (and device) answered and how long it waited and ran.</summary>
public sealed record Served(IReadOnlyList<Prediction> Predictions, ModelInfo Model, TimeSpan QueueWait, TimeSpan Inference);

/// <summary>
/// One request's boards, queued for the model as a unit. <see cref="Cancellation"/> fires when the client goes away
/// or the request's <see cref="Deadline"/> (a <see cref="Stopwatch"/> timestamp) passes; the item is then dropped if
/// its batch has not started.
/// </summary>
internal sealed class WorkItem(IReadOnlyList<Board> boards, DecodeOptions options, string requestId, long deadline, CancellationToken cancellation)
{
    public IReadOnlyList<Board> Boards { get; } = boards;
    public DecodeOptions Options { get; } = options;
    public string RequestId { get; } = requestId;
    public CancellationToken Cancellation { get; } = cancellation;
    public long Enqueued { get; } = Stopwatch.GetTimestamp();
    public long Deadline { get; } = deadline;
    public bool Expired => Stopwatch.GetTimestamp() >= Deadline;
    public TaskCompletionSource<Served> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// The token of a batch of <paramref name="items"/>: it fires once every one of them is cancelled (nobody waits
    /// for their batch any more), or when <paramref name="stopping"/> fires (the model stops serving: the drain ended).
    /// </summary>
    public static BatchCancellation ForBatch(IReadOnlyList<WorkItem> items, CancellationToken stopping) => new(items, stopping);

    public sealed class BatchCancellation : IDisposable
    {
        private readonly CancellationTokenSource _source;
        private readonly CancellationTokenRegistration[] _registrations;
        private int _live;

        public BatchCancellation(IReadOnlyList<WorkItem> items, CancellationToken stopping)
        {
            _source = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            _live = items.Count;
            _registrations = [.. items.Select(item => item.Cancellation.Register(() =>
            {
                if (Interlocked.Decrement(ref _live) == 0) _source.Cancel();
            }))];
        }

        public CancellationToken Token => _source.Token;

        public void Dispose()
        {
            foreach (var registration in _registrations) registration.Dispose();
            _source.Dispose();
        }
    }
}
