using System.Diagnostics;
using Conway.Boards;
using Conway.Decoding;

namespace Conway.Api.Serving;

/// <summary>
/// A request's answer from the model, with which model answered (its name, and what was loaded: file, hash, device)
/// and how long it waited and ran.
/// </summary>
public sealed record Served(IReadOnlyList<Prediction> Predictions, string Model, ModelInfo Info, TimeSpan QueueWait, TimeSpan Inference);

/// <summary>A part of a request that goes to the model in one batch: boards Offset..Offset+Count-1 of its request.</summary>
internal readonly record struct Slice(WorkItem Item, int Offset, int Count)
{
    public IEnumerable<Board> Boards => Item.Boards.Skip(Offset).Take(Count);
}

/// <summary>
/// One request's boards, queued for the model and decoded a <see cref="Slice"/> at a time (one slice for a small
/// request). <see cref="Cancellation"/> fires when the client goes away or the request's <see cref="Deadline"/> (a
/// <see cref="Stopwatch"/> timestamp) passes; the request then leaves the queue, and a batch whose requests are all
/// gone stops. <see cref="Completion"/> gets the answer once every slice is done.
/// </summary>
internal sealed class WorkItem(
    IReadOnlyList<Board> boards, string model, DecodeOptions options, string requestId, long deadline, CancellationToken cancellation)
{
    private readonly Prediction[] _predictions = new Prediction[boards.Count];
    private readonly Lock _lock = new();
    private int _done;
    private long _firstStarted;
    private TimeSpan _inference;
    private CancellationTokenRegistration _onCancelled;

    public IReadOnlyList<Board> Boards { get; } = boards;

    /// <summary>The name of the model (one of <see cref="ModelOptions.Served"/>) that decodes the boards.</summary>
    public string Model { get; } = model;
    public DecodeOptions Options { get; } = options;
    public string RequestId { get; } = requestId;
    public CancellationToken Cancellation { get; } = cancellation;
    public long Enqueued { get; } = Stopwatch.GetTimestamp();
    public long Deadline { get; } = deadline;
    public bool Expired => Stopwatch.GetTimestamp() >= Deadline;
    public TaskCompletionSource<Served> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// The generation of the model's weights that decodes every board of this request: the current one when its first
    /// boards went into a batch (<see cref="ModelGenerations"/>); null before. Set under the queue's lock.
    /// </summary>
    public int? Generation { get; set; }

    /// <summary>Boards handed to batches so far (the queue's, changed under its lock).</summary>
    public int Taken { get; set; }

    /// <summary>Runs <paramref name="action"/> once if the request is cancelled before it is answered.</summary>
    public void OnCancelled(Action action)
    {
        _onCancelled = Cancellation.Register(action);
        Completion.Task.ContinueWith(_ => _onCancelled.Dispose(), TaskScheduler.Default);
    }

    /// <summary>
    /// Records a slice's predictions; when they were the last, answers the request: its queue wait runs to the start of
    /// its first batch, its inference time is the sum of its batches'.
    /// </summary>
    public void Complete(Slice slice, IEnumerable<Prediction> predictions, ModelInfo model, long started, TimeSpan inference)
    {
        lock (_lock)
        {
            int i = slice.Offset;
            foreach (var prediction in predictions) _predictions[i++] = prediction;
            if (_firstStarted == 0 || started < _firstStarted) _firstStarted = started;
            _inference += inference;
            _done += slice.Count;
            if (_done < Boards.Count) return;
        }
        Completion.TrySetResult(new Served(_predictions, Model, model, Stopwatch.GetElapsedTime(Enqueued, _firstStarted), _inference));
    }

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
