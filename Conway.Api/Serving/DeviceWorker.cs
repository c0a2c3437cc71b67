using System.Diagnostics;
using Conway.Decoding;
using Polly.CircuitBreaker;

namespace Conway.Api.Serving;

public enum ModelState { Loading, Ready, Failed }

/// <summary>What one device worker reports to /healthz/ready.</summary>
public sealed record DeviceStatus(string Device, ModelState State, string? Problem, double? LoadMs, double? WarmUpMs);

/// <summary>
/// One device: a dedicated thread (TorchSharp's dispose scopes and inference mode are thread-local) that loads
/// its own predictor, runs the self-test as its warm-up, then serves batches from the shared queue, one
/// <see cref="PredictorResilience.Predict"/> call per distinct <see cref="DecodeOptions"/>, until the queue is closed
/// and empty, or <paramref name="stopping"/> fires (the drain ended: the batch on the model stops at its next
/// cancellation point). A device whose load or self-test fails stays <see cref="ModelState.Failed"/> and serves nothing.
/// </summary>
internal sealed class DeviceWorker(
    string device, ModelOptions options, PredictorFactory factory, WorkQueue queue, PredictorResilience resilience,
    ThroughputEstimate estimate, ServingMetrics metrics, ILogger logger, Action failed, CancellationToken stopping)
{
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile DeviceStatus _status = new(device, ModelState.Loading, null, null, null);
    private Thread? _thread;

    public DeviceStatus Status => _status;

    public ModelInfo? Info { get; private set; }

    /// <summary>
    /// Completes when the thread is about to end, out of the model with its predictor disposed: the queue is drained,
    /// the drain ended, or the device failed. <see cref="Join"/> it then.
    /// </summary>
    public Task Stopped => _stopped.Task;

    public void Start()
    {
        // background, so that a host that fails to start can still exit; a host that stops joins it (ModelHost.StopAsync)
        _thread = new Thread(Run) { Name = $"Model {device}", IsBackground = true };
        _thread.Start();
    }

    /// <summary>Waits for the thread to end: after <see cref="Stopped"/>, at once.</summary>
    public void Join() => _thread?.Join();

    private void Run()
    {
        try
        {
            if (Prepare() is not { } predictor) return;
            using (predictor)
            {
                var reader = new WorkQueue.Reader(queue);
                while (!stopping.IsCancellationRequested && reader.WaitForWork())
                {
                    try
                    {
                        Serve(predictor, reader.Gather());
                    }
                    finally
                    {
                        reader.Finished();
                    }
                }
            }
        }
        finally
        {
            _stopped.TrySetResult();
        }
    }

    /// <summary>Load, then the self-test; null (and <see cref="ModelState.Failed"/>) if either fails.</summary>
    private IBoardPredictor? Prepare()
    {
        IBoardPredictor? predictor = null;
        try
        {
            logger.LogInformation("Loading the model from {Path} on device {Device}", options.Path, device);
            predictor = factory(options, device);
            var info = predictor.Info;
            logger.LogInformation(
                "Loaded model {Path} (sha256 {Sha256}): {Parameters:N0} parameters, {DType} on {Device}, in {LoadMs:F0} ms",
                info.Path, info.Sha256, info.Parameters, info.DType, info.Device, info.LoadTime.TotalMilliseconds);

            long started = Stopwatch.GetTimestamp();
            var names = options.SelfTestNames();
            var failures = SelfTest.Failures(predictor, names, stopping);
            var warmUp = Stopwatch.GetElapsedTime(started);
            double warmUpMs = warmUp.TotalMilliseconds;
            if (names.Count > 0) estimate.Record(device, DecodeStrategy.Speculative, names.Count, warmUp);   // admission's first price
            if (failures.Count > 0)
            {
                logger.LogCritical("Self-test failed on {Device}: the model does not step {Patterns} like the rule; this device serves nothing",
                    device, failures);
                return Fail(predictor, $"The model failed its self-test on {device}: {string.Join(", ", failures)} differ from the rule.");
            }
            logger.LogInformation("Self-test passed on {Device}: {Count} patterns stepped exactly like the rule in {WarmUpMs:F0} ms",
                device, names.Count, warmUpMs);
            Info = info;
            _status = _status with { State = ModelState.Ready, LoadMs = Math.Round(info.LoadTime.TotalMilliseconds), WarmUpMs = Math.Round(warmUpMs) };
            return predictor;
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            logger.LogInformation("The instance stopped before the model on {Device} finished its self-test", device);
            predictor?.Dispose();
            return null;
        }
        catch (Exception e)
        {
            logger.LogCritical(e, "Could not load the model from {Path} on {Device}; this device serves nothing", options.Path, device);
            return Fail(predictor, $"The model failed to load on {device}; see the service log.");
        }
    }

    private IBoardPredictor? Fail(IBoardPredictor? predictor, string problem)
    {
        predictor?.Dispose();
        _status = _status with { State = ModelState.Failed, Problem = problem };
        failed();
        return null;
    }

    /// <summary>
    /// Requests with equal options share one model call, except seeded sampling: each board's random stream is its place
    /// in its own request, so a seeded request is decoded on its own and its sample never depends on its neighbours.
    /// </summary>
    private static object SharedCall(Slice slice) =>
        slice.Item.Options is { IsGreedy: false, Seed: not null } ? slice.Item : slice.Item.Options;

    private void Serve(IBoardPredictor predictor, List<Slice> batch)
    {
        foreach (var group in batch.GroupBy(SharedCall))
        {
            var slices = group.ToList();
            var items = slices.Select(slice => slice.Item).Distinct().ToList();
            var boards = slices.SelectMany(slice => slice.Boards).ToList();
            // a seeded request's slices in one call are consecutive: its boards keep their random streams
            var decode = slices[0].Item.Options with { StreamOffset = slices[0].Offset };
            long started = Stopwatch.GetTimestamp();
            using var cancellation = WorkItem.ForBatch(items, stopping);
            try
            {
                var predictions = resilience.Predict(predictor, boards, decode, cancellation.Token);
                var inference = Stopwatch.GetElapsedTime(started);
                metrics.Predicted(device, predictions, inference);
                estimate.Record(device, decode.Strategy, boards.Count, inference);
                logger.LogDebug("Predicted {Boards} boards on {Device} in {ElapsedMs:F1} ms for requests {RequestIds}",
                    boards.Count, device, inference.TotalMilliseconds, items.Select(item => item.RequestId));
                int offset = 0;
                foreach (var slice in slices)
                {
                    metrics.QueueWaited(Stopwatch.GetElapsedTime(slice.Item.Enqueued, started));
                    slice.Item.Complete(slice, predictions.Skip(offset).Take(slice.Count), Info!, started, inference);
                    offset += slice.Count;
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                metrics.Abandoned(Stopwatch.GetElapsedTime(started));
                logger.LogWarning("Stopped a batch of {Boards} boards on {Device}: the drain ended before it finished ({RequestIds})",
                    boards.Count, device, items.Select(item => item.RequestId));
                foreach (var item in items) item.Completion.TrySetException(ModelUnavailableException.DrainEnded());
            }
            catch (OperationCanceledException) when (cancellation.Token.IsCancellationRequested)
            {
                metrics.Abandoned(Stopwatch.GetElapsedTime(started));
                logger.LogInformation("Stopped a batch of {Boards} boards on {Device}: every request in it was cancelled or expired, after {ElapsedMs:F0} ms ({RequestIds})",
                    boards.Count, device, Stopwatch.GetElapsedTime(started).TotalMilliseconds, items.Select(item => item.RequestId));
                foreach (var item in items) item.Completion.TrySetCanceled();
            }
            catch (Exception e)
            {
                if (e is BrokenCircuitException)
                    logger.LogWarning("Refused a batch of {Boards} boards on {Device}: the circuit is open ({RequestIds})", boards.Count, device, items.Select(item => item.RequestId));
                else
                    logger.LogError(e, "A batch of {Boards} boards failed on {Device} ({RequestIds})", boards.Count, device, items.Select(item => item.RequestId));
                foreach (var item in items) item.Completion.TrySetException(e);
            }
        }
    }
}
