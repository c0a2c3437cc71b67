using System.Collections.Concurrent;
using System.Diagnostics;
using Conway.Decoding;

namespace Conway.Api.Serving;

/// <summary>What admission decided for a request: admitted, or refused with the time after which a retry may succeed.</summary>
internal abstract record Admission
{
    public sealed record Admitted : Admission;

    /// <summary>The queue holds <see cref="ModelOptions.QueueCapacity"/> boards already.</summary>
    public sealed record QueueFull(int QueuedBoards, TimeSpan RetryAfter) : Admission;

    /// <summary>The predicted answer comes after the request's deadline.</summary>
    public sealed record TooLate(TimeSpan PredictedWait, TimeSpan Deadline, TimeSpan RetryAfter) : Admission;

    /// <summary>The queue takes nothing more: the instance is stopping, or every device failed.</summary>
    public sealed record Closed : Admission;
}

/// <summary>
/// The one queue of work that every device worker reads, accounted in boards, not requests, and scheduled so that a big
/// request cannot starve small ones:
/// <list type="bullet">
/// <item>admission: a request is refused at once when its boards would overfill <see cref="ModelOptions.QueueCapacity"/>
/// (boards), or when its predicted answer (from <see cref="ThroughputEstimate"/>: the work scheduled before its last
/// board, over the devices, plus its own) comes after its deadline; either way with the time after which a retry can
/// succeed;</item>
/// <item>batches: earliest deadline first, each request contributing at most <see cref="ModelOptions.SliceBoards"/>
/// boards to a batch, so a 256-board request is decoded a slice at a time with later small requests in the same
/// batches, and no slice joins a batch that would then end after an earlier member's deadline;</item>
/// <item>a request whose client left or whose deadline passed leaves the queue at once, freeing its boards.</item>
/// </list>
/// It also knows every request it admitted that has no answer yet, queued or on a device, so that none is left
/// unanswered when the model stops.
/// </summary>
internal sealed class WorkQueue(ModelOptions options, ThroughputEstimate estimate, ModelGenerations generations, Action<WorkItem> dropped)
{
    private readonly ModelOptions _options = options;
    private readonly ThroughputEstimate _estimate = estimate;
    private readonly ModelGenerations _generations = generations;
    private readonly object _lock = new();
    private readonly List<WorkItem> _waiting = [];                      // requests with boards not yet in a batch
    private readonly ConcurrentDictionary<WorkItem, byte> _unanswered = new();
    private readonly Dictionary<Reader, (long Started, TimeSpan Cost)> _running = [];
    private int _queuedBoards;
    private bool _closed;

    /// <summary>Boards of live requests waiting for a batch (what /metrics reports as the queue's depth).</summary>
    public int QueuedBoards
    {
        get { lock (_lock) return _queuedBoards; }
    }

    /// <summary>Requests waiting for a batch.</summary>
    public int Count
    {
        get { lock (_lock) return _waiting.Count; }
    }

    /// <summary>Requests admitted and not answered yet: queued, or in a batch on a device.</summary>
    public int Unanswered => _unanswered.Count;

    /// <summary>
    /// Admits the request, or says at once why not and when to retry. A <paramref name="continuing"/> request (a later
    /// generation of a rollout admitted already) skips the capacity and predicted-wait checks: only a closed queue refuses it.
    /// </summary>
    public Admission TryAdd(WorkItem item, int devices, bool continuing = false)
    {
        lock (_lock)
        {
            if (_closed) return new Admission.Closed();
            if (!continuing && Busy(item, Math.Max(1, devices)) is { } refused) return refused;
            _waiting.Add(item);
            _queuedBoards += item.Boards.Count;
            _unanswered[item] = 0;
            Monitor.PulseAll(_lock);
        }
        item.OnCancelled(() => Remove(item));
        item.Completion.Task.ContinueWith((_, answered) => _unanswered.TryRemove((WorkItem)answered!, out byte _), item, CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return new Admission.Admitted();
    }

    /// <summary>Whether a request not answered yet is pinned to <paramref name="generation"/> of <paramref name="model"/>.</summary>
    public bool Pinned(string model, int generation) =>
        _unanswered.Keys.Any(item => item.Generation == generation && string.Equals(item.Model, model, StringComparison.OrdinalIgnoreCase));

    /// <summary>Wakes the readers, so that a device runs the steps posted to it.</summary>
    public void Wake()
    {
        lock (_lock) Monitor.PulseAll(_lock);
    }

    /// <summary>Why the queue cannot take the request now (full, or its answer predicted after its deadline); null when it can. Under the lock.</summary>
    private Admission? Busy(WorkItem item, int devices)
    {
        var now = Stopwatch.GetTimestamp();
        if (_queuedBoards + item.Boards.Count > _options.QueueCapacity)
            return new Admission.QueueFull(_queuedBoards, Drained(AllQueued(), devices, now));
        var wait = PredictedWait(item, devices, now);
        var deadline = Stopwatch.GetElapsedTime(now, item.Deadline);
        return wait > deadline ? new Admission.TooLate(wait, deadline, wait - deadline) : null;
    }

    /// <summary>Takes no more requests; readers still get those already queued.</summary>
    public void Close()
    {
        lock (_lock)
        {
            _closed = true;
            Monitor.PulseAll(_lock);
        }
    }

    /// <summary>
    /// Answers every admitted request that has no answer yet with <paramref name="error"/>: those still queued (which
    /// are removed) and those in a batch on a device (whose own answer, if it comes later, is then ignored).
    /// </summary>
    public void FailUnanswered(Exception error)
    {
        lock (_lock)
        {
            _waiting.Clear();
            _queuedBoards = 0;
        }
        foreach (var item in _unanswered.Keys) item.Completion.TrySetException(error);
    }

    /// <summary>A request whose client left or whose deadline passed: out of the queue at once, its boards freed.</summary>
    private void Remove(WorkItem item)
    {
        lock (_lock)
        {
            if (!_waiting.Remove(item)) return;
            _queuedBoards -= item.Boards.Count - item.Taken;
        }
        dropped(item);
        item.Completion.TrySetCanceled(item.Cancellation);
    }

    /// <summary>
    /// When the request's last board would be decoded: what runs now, then every waiting request's boards up to as many
    /// slices as this request needs (the batches interleave requests a slice at a time), then its own, over the devices.
    /// </summary>
    private TimeSpan PredictedWait(WorkItem item, int devices, long now)
    {
        int slices = (item.Boards.Count + _options.SliceBoards - 1) / _options.SliceBoards;
        double ahead = _waiting.Sum(other => Seconds(other, Math.Min(other.Boards.Count - other.Taken, slices * _options.SliceBoards)));
        double own = Seconds(item, item.Boards.Count);
        return Running(now, devices) + TimeSpan.FromSeconds((ahead + own) / devices);
    }

    /// <summary>When everything queued now would be done.</summary>
    private TimeSpan Drained(double queuedSeconds, int devices, long now) => Running(now, devices) + TimeSpan.FromSeconds(queuedSeconds / devices);

    private double AllQueued() => _waiting.Sum(other => Seconds(other, other.Boards.Count - other.Taken));

    /// <summary>What <paramref name="boards"/> boards of a request cost one device, by the estimate for its model and strategy.</summary>
    private double Seconds(WorkItem item, int boards) => boards * _estimate.SecondsPerBoard(item.Model, item.Options.Strategy);

    private double Seconds(IEnumerable<Slice> slices) => slices.Sum(slice => Seconds(slice.Item, slice.Count));

    /// <summary>What is left of the batches on the devices, as predicted when they started, shared over the devices.</summary>
    private TimeSpan Running(long now, int devices) => _running.Count == 0 ? TimeSpan.Zero
        : TimeSpan.FromSeconds(_running.Values.Sum(run => Math.Max(0, (run.Cost - Stopwatch.GetElapsedTime(run.Started, now)).TotalSeconds)) / devices);

    /// <summary>
    /// One device worker's view of the queue, limited to the requests whose weights it holds (<paramref name="serves"/>,
    /// called on the worker's thread): it blocks that thread while waiting, until there is work or
    /// <paramref name="interrupted"/> (steps posted to the device).
    /// </summary>
    public sealed class Reader(WorkQueue queue, Func<WorkItem, bool> serves, Func<bool> interrupted)
    {
        /// <summary>How often a device that holds weights to retire looks whether it may (other devices answer their requests).</summary>
        public static readonly TimeSpan RetirePoll = TimeSpan.FromSeconds(1);

        /// <summary>
        /// Blocks until a request it can serve waits, or it is interrupted, or (when <paramref name="retiring"/>)
        /// <see cref="RetirePoll"/> passed: true; false when the queue is closed and has nothing for it.
        /// </summary>
        public bool WaitForWork(bool retiring)
        {
            lock (queue._lock)
            {
                while (!queue._waiting.Any(serves) && !queue._closed && !interrupted())
                    if (!Monitor.Wait(queue._lock, retiring ? RetirePoll : Timeout.InfiniteTimeSpan) && retiring) return true;
                return queue._waiting.Any(serves) || interrupted() || !queue._closed;
            }
        }

        private bool Serves(WorkItem item) => serves(item);

        /// <summary>
        /// Waits up to <see cref="ModelOptions.MaxWaitMs"/> after the first request for more (unless a batch is already
        /// full), then forms a batch of at most <see cref="ModelOptions.MaxBatchBoards"/> boards: requests by earliest
        /// deadline, at most a slice of each, round after round, and no slice that would make the batch end after the
        /// deadline of a member already in it. Empty when another worker took the work.
        /// </summary>
        public List<Slice> Gather()
        {
            var options = queue._options;
            lock (queue._lock)
            {
                long until = Stopwatch.GetTimestamp() + (long)(options.MaxWaitMs / 1000.0 * Stopwatch.Frequency);
                while (queue._queuedBoards < options.MaxBatchBoards && !queue._closed)
                {
                    var left = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), until);
                    if (left <= TimeSpan.Zero) break;
                    Monitor.Wait(queue._lock, left);
                }
                var batch = Form(options);
                if (batch.Count > 0)
                    queue._running[this] = (Stopwatch.GetTimestamp(), TimeSpan.FromSeconds(queue.Seconds(batch)));
                return batch;
            }
        }

        /// <summary>The batch this reader took is done (or failed).</summary>
        public void Finished()
        {
            lock (queue._lock) queue._running.Remove(this);
        }

        private List<Slice> Form(ModelOptions options)
        {
            var batch = new List<Slice>();
            int boards = 0;
            long now = Stopwatch.GetTimestamp();
            var byDeadline = queue._waiting.Where(Serves).OrderBy(item => item.Deadline).ThenBy(item => item.Enqueued).ToList();
            for (bool took = true; took && boards < options.MaxBatchBoards;)
            {
                took = false;
                foreach (var item in byDeadline)
                {
                    int count = Math.Min(Math.Min(options.SliceBoards, item.Boards.Count - item.Taken), options.MaxBatchBoards - boards);
                    if (count <= 0) continue;
                    if (batch.Count > 0 && !StillInTime(batch, item, count, now)) continue;
                    item.Generation ??= queue._generations.Current(item.Model);   // all of a request's boards by the same weights
                    batch.Add(new Slice(item, item.Taken, count));
                    item.Taken += count;
                    boards += count;
                    took = true;
                }
            }
            foreach (var item in byDeadline.Where(item => item.Taken == item.Boards.Count)) queue._waiting.Remove(item);
            queue._queuedBoards -= boards;
            return batch;
        }

        /// <summary>Whether the batch with this slice added still ends before the deadline of every member.</summary>
        private bool StillInTime(List<Slice> batch, WorkItem item, int count, long now)
        {
            double seconds = queue.Seconds(batch) + queue.Seconds(item, count);
            long end = now + (long)(seconds * Stopwatch.Frequency);
            return batch.All(s => s.Item.Deadline >= end) && item.Deadline >= end;
        }
    }
}
