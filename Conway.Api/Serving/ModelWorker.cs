using System.Diagnostics;
using System.Threading.Channels;
using Conway.Boards;
using Conway.Decoding;
using Microsoft.Extensions.Options;

namespace Conway.Api.Serving;

public enum ModelState { Loading, Ready, Failed }

/// <summary>
/// Owns the model: one dedicated thread loads it, then serves a bounded queue of work items, coalescing the
/// requests that arrive within <see cref="ModelOptions.MaxWaitMs"/> into batches of up to
/// <see cref="ModelOptions.MaxBatchBoards"/> boards, one <see cref="IBoardPredictor.Predict"/> call per distinct
/// <see cref="DecodeOptions"/>. On shutdown the queue is closed and what is already in it is still served.
/// </summary>
public sealed class ModelWorker(PredictorFactory factory, IOptions<ModelOptions> options, ILogger<ModelWorker> logger)
    : BackgroundService
{
    private readonly ModelOptions _options = options.Value;
    private readonly Channel<WorkItem> _queue = Channel.CreateBounded<WorkItem>(
        new BoundedChannelOptions(options.Value.QueueCapacity) { SingleReader = true });
    private volatile ModelState _state;
    private volatile ModelInfo? _info;
    private Task<bool>? _pendingWait;

    public ModelState State => _state;

    /// <summary>What was loaded; null until <see cref="State"/> is <see cref="ModelState.Ready"/>.</summary>
    public ModelInfo? Info => _info;

    /// <summary>Work items waiting for the model.</summary>
    public int QueueLength => _queue.Reader.Count;

    /// <summary>
    /// Queues the boards as one work item (so they go to the model together). Returns null at once when the queue
    /// is full. The task faults with <see cref="ModelUnavailableException"/> if the model failed to load. An item
    /// whose <paramref name="aborted"/> token fires before its batch starts is dropped and its task never completes.
    /// </summary>
    public Task<IReadOnlyList<Prediction>>? TryEnqueue(IReadOnlyList<Board> boards, DecodeOptions decode, CancellationToken aborted)
    {
        var item = new WorkItem(boards, decode, aborted);
        if (_state != ModelState.Failed && _queue.Writer.TryWrite(item)) return item.Completion.Task;
        return _state == ModelState.Failed ? Task.FromException<IReadOnlyList<Prediction>>(new ModelUnavailableException()) : null;
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        stoppingToken.Register(() => _queue.Writer.TryComplete());
        var thread = new Thread(() =>
        {
            try { Run(); stopped.SetResult(); }
            catch (Exception e) { stopped.SetException(e); }
        }) { Name = "Model", IsBackground = true };
        thread.Start();
        return stopped.Task;
    }

    private void Run()
    {
        IBoardPredictor predictor;
        try
        {
            logger.LogInformation("Loading the model from {Path} on device {Device}", _options.Path, _options.Device);
            predictor = factory(_options);
        }
        catch (Exception e)
        {
            logger.LogCritical(e, "Could not load the model from {Path}; the service stays up but never becomes ready", _options.Path);
            _state = ModelState.Failed;
            _queue.Writer.TryComplete();
            while (_queue.Reader.TryRead(out var item)) item.Completion.TrySetException(new ModelUnavailableException());
            return;
        }

        using (predictor)
        {
            var info = predictor.Info;
            logger.LogInformation(
                "Loaded model {Path} (sha256 {Sha256}): {Parameters:N0} parameters, {DType} on {Device}, in {LoadMs:F0} ms",
                info.Path, info.Sha256, info.Parameters, info.DType, info.Device, info.LoadTime.TotalMilliseconds);
            _info = info;
            _state = ModelState.Ready;
            while (WaitToRead(Timeout.InfiniteTimeSpan)) Serve(predictor, Gather());
        }
    }

    /// <summary>Takes the first item, then more until the batch is full or <see cref="ModelOptions.MaxWaitMs"/> has passed.</summary>
    private List<WorkItem> Gather()
    {
        var batch = new List<WorkItem>();
        int boards = 0;
        long started = Stopwatch.GetTimestamp();
        var maxWait = TimeSpan.FromMilliseconds(_options.MaxWaitMs);
        while (boards < _options.MaxBatchBoards)
        {
            if (_queue.Reader.TryRead(out var item))
            {
                batch.Add(item);
                boards += item.Boards.Count;
                continue;
            }
            var left = maxWait - Stopwatch.GetElapsedTime(started);
            if (left <= TimeSpan.Zero || !WaitToRead(left)) break;
        }
        return batch;
    }

    /// <summary>
    /// Blocks the model thread until an item can be read (true), or the timeout passes or the queue is closed and
    /// empty (false). A wait that times out stays pending and is reused, so no waiter is left behind in the channel.
    /// </summary>
    private bool WaitToRead(TimeSpan timeout)
    {
        _pendingWait ??= _queue.Reader.WaitToReadAsync().AsTask();
        if (!_pendingWait.Wait(timeout)) return false;
        bool readable = _pendingWait.Result;
        _pendingWait = null;
        return readable;
    }

    private void Serve(IBoardPredictor predictor, List<WorkItem> batch)
    {
        foreach (var group in batch.Where(item => !item.Aborted.IsCancellationRequested).GroupBy(item => item.Options))
        {
            var items = group.ToList();
            try
            {
                long started = Stopwatch.GetTimestamp();
                var predictions = predictor.Predict(items.SelectMany(item => item.Boards).ToList(), group.Key);
                logger.LogDebug("Predicted {Boards} boards for {Requests} requests in {ElapsedMs:F1} ms",
                    predictions.Count, items.Count, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                int offset = 0;
                foreach (var item in items)
                {
                    item.Completion.TrySetResult(predictions.Skip(offset).Take(item.Boards.Count).ToArray());
                    offset += item.Boards.Count;
                }
            }
            catch (Exception e)
            {
                foreach (var item in items) item.Completion.TrySetException(e);
            }
        }
    }

    private sealed class WorkItem(IReadOnlyList<Board> boards, DecodeOptions options, CancellationToken aborted)
    {
        public IReadOnlyList<Board> Boards { get; } = boards;
        public DecodeOptions Options { get; } = options;
        public CancellationToken Aborted { get; } = aborted;
        public TaskCompletionSource<IReadOnlyList<Prediction>> Completion { get; } =
            new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
