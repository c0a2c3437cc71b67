using System.Collections.Concurrent;
using System.Diagnostics;
using Conway.Decoding;
using Polly.CircuitBreaker;

namespace Conway.Api.Serving;

public enum ModelState { Loading, Ready, Failed }

/// <summary>What one device worker reports to /healthz/ready: each model's state on it, the default model first.</summary>
public sealed record DeviceStatus(string Device, IReadOnlyList<ModelStatus> Models)
{
    /// <summary>The default model's state on this device.</summary>
    public ModelState State => Models[0].State;

    /// <summary>Why the default model does not serve on this device, if it does not.</summary>
    public string? Problem => Models[0].Problem;
}

/// <summary>One model on one device: loading, ready (loaded and self-tested) or failed, and why.</summary>
public sealed record ModelStatus(string Model, ModelState State, string? Problem, double? LoadMs, double? WarmUpMs);

/// <summary>
/// One device: a dedicated thread (TorchSharp's dispose scopes and inference mode are thread-local) that loads its own
/// predictor of every served model (<see cref="ModelOptions.Served"/>, the default first), runs each one's self-test
/// as its warm-up, then serves batches from the shared queue, one <see cref="PredictorResilience.Predict"/> call per
/// model and distinct <see cref="DecodeOptions"/>, until the queue is closed and empty, or <paramref name="stopping"/>
/// fires (the drain ended: the batch on the model stops at its next cancellation point). A model whose load or
/// self-test fails stays <see cref="ModelState.Failed"/> on this device and is not served by it; the others are.
/// Between batches the thread also runs the reload steps that <see cref="ModelHost"/> posts: load and self-test new
/// weights beside the current ones (<see cref="Stage"/>), drop them (<see cref="Discard"/>), and dispose weights no
/// request is pinned to any more.
/// </summary>
internal sealed class DeviceWorker(
    string device, ModelOptions options, PredictorFactory factory, WorkQueue queue, ModelGenerations generations, PredictorResilience resilience,
    ThroughputEstimate estimate, ServingMetrics metrics, ILogger logger, Action failed, CancellationToken stopping)
{
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentQueue<Action> _posted = new();
    private readonly Dictionary<(string Model, int Generation), IBoardPredictor> _predictors = [];   // the thread's own
    private readonly ConcurrentDictionary<(string Model, int Generation), ModelInfo> _infos = new();
    private readonly Dictionary<(string Model, int Generation), TimeSpan> _staged = [];   // the thread's own: self-test times
    private volatile DeviceStatus _status = new(device, [.. options.Served().Select(model => new ModelStatus(model.Name, ModelState.Loading, null, null, null))]);
    private Thread? _thread;

    public DeviceStatus Status => _status;

    /// <summary>What this device loaded for the current generation of <paramref name="model"/> (its name as served); null unless it serves it.</summary>
    public ModelInfo? Info(string model) => _infos.GetValueOrDefault((model, generations.Current(model)));

    /// <summary>
    /// Completes when the thread is about to end, out of the model with its predictors disposed: the queue is drained,
    /// the drain ended, or no model loaded. <see cref="Join"/> it then.
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

    /// <summary>
    /// On the device's thread, between batches: loads <paramref name="model"/>'s checkpoint as
    /// <paramref name="generation"/> beside the weights in use and self-tests it. Faults with the reason when either fails
    /// (nothing then changes), or when the device has stopped.
    /// </summary>
    public Task<ModelInfo> Stage(ModelSpec model, int generation) => Post(() =>
    {
        var (predictor, info, warmUp) = Prepare(model);
        _predictors[(model.Name, generation)] = predictor;
        _infos[(model.Name, generation)] = info;
        _staged[(model.Name, generation)] = warmUp;
        return info;
    });

    /// <summary>After the swap to staged weights: the device reports them (ready, with their load and self-test times).</summary>
    public Task Activate(string model, int generation) => Post(() =>
    {
        if (_staged.Remove((model, generation), out var warmUp) && _infos.TryGetValue((model, generation), out var info))
            Ready(model, info, warmUp);
    });

    /// <summary>Drops weights staged for a reload that did not happen (another device could not load them).</summary>
    public Task Discard(string model, int generation) => Post(() =>
    {
        _staged.Remove((model, generation));
        Dispose((model, generation));
    });

    private Task<T> Post<T>(Func<T> step)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (_stopped.Task.IsCompleted) done.SetException(ModelUnavailableException.Failed());
        _posted.Enqueue(() =>
        {
            try
            {
                done.TrySetResult(step());
            }
            catch (Exception e)
            {
                done.TrySetException(e);
            }
        });
        queue.Wake();
        return done.Task;
    }

    private Task Post(Action step) => Post(() => { step(); return true; });

    private void Run()
    {
        try
        {
            foreach (var model in options.Served())
                if (!stopping.IsCancellationRequested) Load(model);
            if (_predictors.Count == 0) return;
            var reader = new WorkQueue.Reader(queue, Serves, () => !_posted.IsEmpty);
            while (!stopping.IsCancellationRequested)
            {
                RunPosted();
                RetireUnused();
                if (!reader.WaitForWork(retiring: _predictors.Keys.Any(Retired))) break;
                if (!_posted.IsEmpty) continue;
                try
                {
                    Serve(reader.Gather());
                }
                finally
                {
                    reader.Finished();
                }
            }
        }
        finally
        {
            foreach (var predictor in _predictors.Values) predictor.Dispose();
            _predictors.Clear();
            while (_posted.TryDequeue(out var step)) step();   // each fails: the device has stopped
            _stopped.TrySetResult();
        }
    }

    /// <summary>Whether this device holds the weights <paramref name="item"/> is (or would be) pinned to.</summary>
    private bool Serves(WorkItem item) => _predictors.ContainsKey((item.Model, item.Generation ?? generations.Current(item.Model)));

    private void RunPosted()
    {
        while (_posted.TryDequeue(out var step)) step();
    }

    /// <summary>Weights that a reload replaced and no request is pinned to any more.</summary>
    private bool Retired((string Model, int Generation) weights) =>
        weights.Generation < generations.Current(weights.Model) && !queue.Pinned(weights.Model, weights.Generation);

    private void RetireUnused()
    {
        foreach (var weights in _predictors.Keys.Where(Retired).ToList())
        {
            logger.LogInformation("Disposed generation {Generation} of model {Model} on {Device}: a reload replaced it and no request uses it",
                weights.Generation, weights.Model, device);
            Dispose(weights);
        }
    }

    private void Dispose((string Model, int Generation) weights)
    {
        if (_predictors.Remove(weights, out var predictor)) predictor.Dispose();
        _infos.TryRemove(weights, out _);
    }

    private void Ready(string model, ModelInfo info, TimeSpan warmUp) =>
        SetStatus(model, status => status with
        {
            State = ModelState.Ready, Problem = null, LoadMs = Math.Round(info.LoadTime.TotalMilliseconds), WarmUpMs = Math.Round(warmUp.TotalMilliseconds),
        });

    private void SetStatus(string model, Func<ModelStatus, ModelStatus> change) =>
        _status = _status with { Models = [.. _status.Models.Select(status => status.Model == model ? change(status) : status)] };

    /// <summary>At start: <see cref="Prepare"/>, then ready; or failed (on this device), saying why.</summary>
    private void Load(ModelSpec model)
    {
        try
        {
            var (predictor, info, warmUp) = Prepare(model);
            _predictors[(model.Name, 0)] = predictor;
            _infos[(model.Name, 0)] = info;
            Ready(model.Name, info, warmUp);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            logger.LogInformation("The instance stopped before model {Model} on {Device} finished its self-test", model.Name, device);
        }
        catch (ModelLoadException e)
        {
            SetStatus(model.Name, status => status with { State = ModelState.Failed, Problem = e.Message });
            failed();
        }
    }

    /// <summary>
    /// Loads the checkpoint, then the self-test: the predictor, what was loaded and the self-test's time; or
    /// <see cref="ModelLoadException"/> saying which failed (nothing left loaded).
    /// </summary>
    private (IBoardPredictor Predictor, ModelInfo Info, TimeSpan WarmUp) Prepare(ModelSpec model)
    {
        IBoardPredictor? predictor = null;
        try
        {
            logger.LogInformation("Loading model {Model} from {Path} on device {Device}", model.Name, model.Path, device);
            predictor = factory(options, model.Path, device);
            var info = predictor.Info;
            logger.LogInformation(
                "Loaded model {Model} from {Path} (sha256 {Sha256}): {Parameters:N0} parameters, {DType} on {Device}, decoding on {Kernels}, in {LoadMs:F0} ms",
                model.Name, info.Path, info.Sha256, info.Parameters, info.DType, info.Device, info.Kernels, info.LoadTime.TotalMilliseconds);

            long started = Stopwatch.GetTimestamp();
            var names = model.SelfTest;
            var failures = SelfTest.Failures(predictor, names, stopping);
            var warmUp = Stopwatch.GetElapsedTime(started);
            if (names.Count > 0) estimate.Record(device, model.Name, DecodeStrategy.Speculative, names.Count, warmUp);   // admission's first price
            if (failures.Count > 0)
            {
                logger.LogCritical("Self-test failed on {Device}: model {Model} ({Sha256}) does not step {Patterns} like the rule; this device does not serve it",
                    device, model.Name, info.Sha256, failures);
                throw new ModelLoadException($"Model {model.Name} failed its self-test on {device}: {string.Join(", ", failures)} differ from the rule.");
            }
            logger.LogInformation("Self-test passed on {Device}: model {Model} stepped {Count} patterns exactly like the rule in {WarmUpMs:F0} ms",
                device, model.Name, names.Count, warmUp.TotalMilliseconds);
            return (predictor, info, warmUp);
        }
        catch (Exception e) when (e is not ModelLoadException && !(e is OperationCanceledException && stopping.IsCancellationRequested))
        {
            predictor?.Dispose();
            logger.LogCritical(e, "Could not load model {Model} from {Path} on {Device}; this device does not serve it", model.Name, model.Path, device);
            throw new ModelLoadException($"Model {model.Name} failed to load on {device}; see the service log.");
        }
        catch
        {
            predictor?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Requests for the same weights with equal options share one model call, except seeded sampling: each board's
    /// random stream is its place in its own request, so a seeded request is decoded on its own and its sample never
    /// depends on its neighbours.
    /// </summary>
    private static object SharedCall(Slice slice) =>
        slice.Item.Options is { IsGreedy: false, Seed: not null } ? slice.Item : (slice.Item.Model, slice.Item.Generation, slice.Item.Options);

    private void Serve(List<Slice> batch)
    {
        foreach (var group in batch.GroupBy(SharedCall))
        {
            var slices = group.ToList();
            string model = slices[0].Item.Model;
            var weights = (model, slices[0].Item.Generation!.Value);
            var predictor = _predictors[weights];
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
                metrics.Predicted(device, model, predictions, inference);
                estimate.Record(device, model, decode.Strategy, boards.Count, inference);
                logger.LogDebug("Predicted {Boards} boards with model {Model} on {Device} in {ElapsedMs:F1} ms for requests {RequestIds}",
                    boards.Count, model, device, inference.TotalMilliseconds, items.Select(item => item.RequestId));
                int offset = 0;
                foreach (var slice in slices)
                {
                    metrics.QueueWaited(Stopwatch.GetElapsedTime(slice.Item.Enqueued, started));
                    slice.Item.Complete(slice, predictions.Skip(offset).Take(slice.Count), _infos[weights], started, inference);
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
