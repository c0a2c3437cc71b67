using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;

namespace Conway.Api.Serving;

/// <summary>
/// The one bounded queue of work items that every device worker reads. Each worker reads through its own
/// <see cref="Reader"/>, which coalesces the items that arrive within <see cref="ModelOptions.MaxWaitMs"/> into a
/// batch of up to <see cref="ModelOptions.MaxBatchBoards"/> boards. It also knows every item it admitted that has
/// no answer yet, queued or in a batch on a device, so that none is left unanswered when the model stops.
/// </summary>
internal sealed class WorkQueue(ModelOptions options)
{
    private readonly ModelOptions _options = options;
    private readonly Channel<WorkItem> _channel = Channel.CreateBounded<WorkItem>(new BoundedChannelOptions(options.QueueCapacity));
    private readonly ConcurrentDictionary<WorkItem, byte> _unanswered = new();

    /// <summary>Items waiting in the queue.</summary>
    public int Count => _channel.Reader.Count;

    /// <summary>Items admitted and not answered yet: queued, or in a batch on a device.</summary>
    public int Unanswered => _unanswered.Count;

    /// <summary>False at once when the queue is full (or closed).</summary>
    public bool TryAdd(WorkItem item)
    {
        _unanswered[item] = 0;
        if (!_channel.Writer.TryWrite(item))
        {
            Forget(item);
            return false;
        }
        item.Completion.Task.ContinueWith((_, answered) => Forget((WorkItem)answered!), item, CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return true;
    }

    private void Forget(WorkItem item) => _unanswered.TryRemove(item, out _);

    /// <summary>Takes no more items; readers still get those already queued.</summary>
    public void Close() => _channel.Writer.TryComplete();

    /// <summary>
    /// Answers every admitted item that has no answer yet with <paramref name="error"/>: those still queued (which
    /// are removed) and those in a batch on a device (whose own answer, if it comes later, is then ignored).
    /// </summary>
    public void FailUnanswered(Exception error)
    {
        while (_channel.Reader.TryRead(out var item)) item.Completion.TrySetException(error);
        foreach (var item in _unanswered.Keys) item.Completion.TrySetException(error);
    }

    /// <summary>One worker thread's view of the queue: it blocks that thread while waiting.</summary>
    public sealed class Reader(WorkQueue queue, Action<WorkItem> dropped)
    {
        private Task<bool>? _pendingWait;

        /// <summary>Blocks until an item may be read (true), or the queue is closed and empty (false).</summary>
        public bool WaitForWork() => WaitToRead(Timeout.InfiniteTimeSpan);

        /// <summary>
        /// Takes items until the batch is full or <see cref="ModelOptions.MaxWaitMs"/> has passed since the start
        /// (empty when another worker took the item). Items already cancelled are dropped, not batched.
        /// </summary>
        public List<WorkItem> Gather()
        {
            var batch = new List<WorkItem>();
            int boards = 0;
            long started = Stopwatch.GetTimestamp();
            var maxWait = TimeSpan.FromMilliseconds(queue._options.MaxWaitMs);
            while (boards < queue._options.MaxBatchBoards)
            {
                if (queue._channel.Reader.TryRead(out var item))
                {
                    if (item.Cancellation.IsCancellationRequested)
                    {
                        dropped(item);
                        continue;
                    }
                    batch.Add(item);
                    boards += item.Boards.Count;
                    continue;
                }
                var left = maxWait - Stopwatch.GetElapsedTime(started);
                if (left <= TimeSpan.Zero || !WaitToRead(left)) break;
            }
            return batch;
        }

        /// <summary>A wait that times out stays pending and is reused, so no waiter is left behind in the channel.</summary>
        private bool WaitToRead(TimeSpan timeout)
        {
            _pendingWait ??= queue._channel.Reader.WaitToReadAsync().AsTask();
            if (!_pendingWait.Wait(timeout)) return false;
            bool readable = _pendingWait.Result;
            _pendingWait = null;
            return readable;
        }
    }
}
