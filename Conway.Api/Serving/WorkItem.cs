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

    /// <summary>A token that fires once every one of <paramref name="items"/> is cancelled: nobody waits for their batch any more.</summary>
    public static AllCancelled WhenAllCancelled(IReadOnlyList<WorkItem> items) => new(items);

    public sealed class AllCancelled : IDisposable
    {
        private readonly CancellationTokenSource _source = new();
        private readonly CancellationTokenRegistration[] _registrations;
        private int _live;

        public AllCancelled(IReadOnlyList<WorkItem> items)
        {
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
