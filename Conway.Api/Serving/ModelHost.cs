using Conway.Boards;
using Conway.Decoding;
using Microsoft.Extensions.Options;
using Polly.CircuitBreaker;

namespace Conway.Api.Serving;

/// <summary>
/// The hosted service that owns the models (<see cref="ModelOptions.Served"/>): one <see cref="DeviceWorker"/> thread
/// per device of <see cref="ModelOptions.Devices"/>, each holding every model, all serving the one bounded queue,
/// admission to that queue, and the shutdown protocol (SIGTERM, or any host stop):
/// <list type="number">
/// <item>At once (ApplicationStopping, then <see cref="StoppingAsync"/>, which the host runs before any hosted
/// service's StopAsync, so before the web server closes its listener): readiness goes down and new predictions get
/// 503 with Retry-After, while the listener still accepts for <see cref="ModelOptions.ShutdownDelaySeconds"/> (so that
/// load balancers stop sending) and the devices go on serving the queue.</item>
/// <item>The drain: the queue is closed and the web server stops, closing its listener and waiting for the requests
/// in flight, while the devices serve what was admitted for up to <see cref="ModelOptions.DrainSeconds"/>. Work whose
/// client left or whose deadline passed is dropped, or its batch stopped, as at any time.</item>
/// <item>If the drain ends first, the batches on the model are cancelled (they stop at their next cancellation
/// point) and every request still unanswered gets 503 with Retry-After: the web server has every answer to write
/// well within the host's <see cref="ModelOptions.ShutdownTimeout"/> and never aborts a connection.</item>
/// <item><see cref="StopAsync"/>, after the web server has stopped: the device threads are joined, so that no native
/// code runs while the process exits.</item>
/// </list>
/// </summary>
public sealed class ModelHost : IHostedLifecycleService, IDisposable
{
    private readonly ModelOptions _options;
    private readonly PredictorFactory _factory;
    private readonly PredictorResilience _resilience;
    private readonly ThroughputEstimate _estimate;
    private readonly ServingMetrics _metrics;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger<ModelHost> _logger;
    private readonly WorkQueue _queue;
    private readonly IReadOnlyList<ModelSpec> _served;
    private readonly ModelGenerations _generations = new();
    private readonly Dictionary<string, SemaphoreSlim> _reloading;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, ReloadOutcome> _reloads = new(StringComparer.OrdinalIgnoreCase);
    private readonly CancellationTokenSource _drainEnded = new();
    private IReadOnlyList<DeviceWorker> _devices = [];
    private int _admissionStopped;
    private int _drainStarted;

    public ModelHost(PredictorFactory factory, IOptions<ModelOptions> options, PredictorResilience resilience, ThroughputEstimate estimate,
        ServingMetrics metrics, IHostApplicationLifetime lifetime, ILogger<ModelHost> logger)
    {
        (_factory, _options, _resilience, _estimate, _metrics, _lifetime, _logger) = (factory, options.Value, resilience, estimate, metrics, lifetime, logger);
        _served = _options.Served();
        _reloading = _served.ToDictionary(model => model.Name, _ => new SemaphoreSlim(1, 1), StringComparer.OrdinalIgnoreCase);
        _queue = new WorkQueue(_options, estimate, _generations, item => metrics.Dropped(item.Expired));
        metrics.Observe(() => _queue.QueuedBoards, () => resilience.OpenFor > TimeSpan.Zero);
    }

    /// <summary>The models served, the default first.</summary>
    public IReadOnlyList<ModelSpec> Served => _served;

    /// <summary>The default model's state: see <see cref="StateOf"/>.</summary>
    public ModelState State => StateOf(_served[0].Name);

    /// <summary>Ready while at least one device serves <paramref name="model"/>; failed once it has failed on every device.</summary>
    public ModelState StateOf(string model)
    {
        var states = _devices.Select(device => device.Status.Models.First(status => Same(status.Model, model)).State).ToList();
        return states.Contains(ModelState.Ready) ? ModelState.Ready
            : states.Count > 0 && states.All(state => state == ModelState.Failed) ? ModelState.Failed
            : ModelState.Loading;
    }

    /// <summary>The served model named <paramref name="name"/> (ignoring case), or the default one for null; null for an unknown name.</summary>
    public ModelSpec? Find(string? name) => name is null ? _served[0] : _served.FirstOrDefault(model => Same(model.Name, name));

    /// <summary>What was loaded for <paramref name="model"/> (its name as served) on the first device where it is ready; null until it is.</summary>
    public ModelInfo? Info(string model) => _devices.Select(device => device.Info(model)).FirstOrDefault(info => info is not null);

    public IReadOnlyList<DeviceStatus> Devices => [.. _devices.Select(device => device.Status)];

    /// <summary>Devices serving <paramref name="model"/> (the default for null) now: loaded, warmed up, self-test passed.</summary>
    public int ServingDevices(string? model = null) => Find(model) is { } spec ? _devices.Count(device => device.Info(spec.Name) is not null) : 0;

    /// <summary>Requests waiting for the model (live ones: a request whose client left or whose deadline passed leaves at once).</summary>
    public int QueueLength => _queue.Count;

    /// <summary>Boards of the requests waiting for the model.</summary>
    public int QueuedBoards => _queue.QueuedBoards;

    /// <summary>False from the moment the application starts stopping.</summary>
    public bool Admitting => Volatile.Read(ref _admissionStopped) == 0;

    /// <summary>
    /// Queues the boards as one request for the model, or refuses it at once. The task faults with
    /// <see cref="ModelBusyException"/> (429) when the queue's boards are at capacity or the predicted answer would
    /// miss <paramref name="deadline"/>; with <see cref="ModelUnavailableException"/> while the model is still loading,
    /// when no device can serve, the instance is shutting down, or its drain ends before the answer; with
    /// <see cref="BrokenCircuitException"/> while the circuit is open; and is cancelled when
    /// <paramref name="cancellation"/> (client gone or <paramref name="deadline"/> passed) fires. A
    /// <paramref name="continuing"/> request (a later generation of an admitted rollout) is never refused for being
    /// busy, only for the other reasons.
    /// </summary>
    public Task<Served> Submit(IReadOnlyList<Board> boards, string? model, DecodeOptions decode, string requestId, long deadline, CancellationToken cancellation,
        bool continuing = false)
    {
        var spec = Find(model) ?? throw new ArgumentException($"No model is named '{model}'.", nameof(model));
        if (!Admitting) return Task.FromException<Served>(ModelUnavailableException.ShuttingDown());
        var state = StateOf(spec.Name);
        if (state == ModelState.Failed) return Task.FromException<Served>(ModelUnavailableException.Failed(spec.Name));
        if (state == ModelState.Loading) return Task.FromException<Served>(ModelUnavailableException.Loading());
        if (_resilience.OpenFor is { Ticks: > 0 } openFor)
            return Task.FromException<Served>(new BrokenCircuitException("The circuit around the model is open.", openFor));
        var item = new WorkItem(boards, spec.Name, decode, requestId, deadline, cancellation);
        return _queue.TryAdd(item, ServingDevices(spec.Name), continuing) switch
        {
            Admission.Admitted => item.Completion.Task,
            Admission.Closed => Task.FromException<Served>(Admitting ? ModelUnavailableException.Failed() : ModelUnavailableException.ShuttingDown()),
            var refusal => Refused(refusal, boards.Count),
        };
    }

    private Task<Served> Refused(Admission refusal, int boards)
    {
        _metrics.Refused(refusal is Admission.QueueFull ? "queue_full" : "deadline");
        return Task.FromException<Served>(ModelBusyException.From(refusal, boards, _options.QueueCapacity));
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _lifetime.ApplicationStopping.Register(StopAdmitting);
        _drainEnded.Token.Register(AnswerWhatTheDrainLeft);
        _devices = [.. DeviceList.Resolve(_options.Devices, DeviceList.VisibleGpus)
            .Select(device => new DeviceWorker(device, _options, _factory, _queue, _generations, _resilience, _estimate, _metrics, _logger, OnDeviceFailed, _drainEnded.Token))];
        _logger.LogInformation("Serving on {Count} device(s): {Devices}", _devices.Count, string.Join(", ", _devices.Select(device => device.Status.Device)));
        foreach (var device in _devices) device.Start();
        return Task.CompletedTask;
    }

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// The first step of a stop, before the web server's: admit nothing more (readiness down, new predictions 503),
    /// keep the listener accepting for <see cref="ModelOptions.ShutdownDelaySeconds"/>, then start the drain.
    /// </summary>
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        StopAdmitting();
        if (_options.ShutdownDelaySeconds > 0)
        {
            _logger.LogInformation("Still accepting connections for {DelaySeconds} s, answering new predictions 503, so that load balancers stop sending",
                _options.ShutdownDelaySeconds);
            await Task.Delay(TimeSpan.FromSeconds(_options.ShutdownDelaySeconds), cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        StartDrain();
    }

    /// <summary>
    /// The last step of a stop, after the web server's (by then every admitted request has its answer): waits for
    /// every device thread to leave the model, past the shutdown timeout if it must (a thread cannot be stopped inside
    /// native code), and joins it.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        StartDrain(); // for a host that does not run StoppingAsync first
        var stopped = Task.WhenAll(_devices.Select(device => device.Stopped));
        try
        {
            await stopped.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            _logger.LogWarning("The shutdown timeout passed while the model was still running; stopping it at its next cancellation point");
            _drainEnded.Cancel();
            await stopped;
        }
        if (!_drainEnded.IsCancellationRequested) _logger.LogInformation("Drained: every admitted request was answered");
        foreach (var device in _devices) device.Join();
        _logger.LogInformation("Stopped the model: {Count} device thread(s) joined", _devices.Count);
    }

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>The last reload of <paramref name="model"/> (from its file changing or from the API), if any.</summary>
    public ReloadOutcome? LastReload(string model) => _reloads.GetValueOrDefault(model);

    /// <summary>
    /// Reloads <paramref name="model"/>'s checkpoint without dropping a request: every running device loads and
    /// self-tests the new weights beside the current ones; if all succeed, new work gets the new weights from one moment
    /// on (requests already in a batch finish on the weights they started on, which are disposed after them); if any
    /// fails, the staged weights are dropped and the current ones go on serving. One reload of a model at a time.
    /// </summary>
    public async Task<ReloadOutcome> ReloadAsync(string model, string trigger, CancellationToken cancellation)
    {
        var spec = Find(model) ?? throw new ArgumentException($"No model is named '{model}'.", nameof(model));
        var gate = _reloading[spec.Name];
        await gate.WaitAsync(cancellation);
        try
        {
            var outcome = await Reload(spec, trigger);
            _reloads[spec.Name] = outcome;
            return outcome;
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task<ReloadOutcome> Reload(ModelSpec spec, string trigger)
    {
        var devices = _devices.Where(device => !device.Stopped.IsCompleted).ToList();
        if (!Admitting || devices.Count == 0 || State == ModelState.Loading)
            return ReloadOutcome.Failed(spec.Name, trigger, "The instance is starting, stopping or has no device that serves; nothing was reloaded.");
        int generation = _generations.Next(spec.Name);
        _logger.LogInformation("Reloading model {Model} from {Path} ({Trigger}) on {Count} device(s) beside the weights in use",
            spec.Name, spec.Path, trigger, devices.Count);
        var staged = devices.Select(device => device.Stage(spec, generation)).ToList();
        try
        {
            await Task.WhenAll(staged);
        }
        catch
        {
            foreach (var device in devices) _ = device.Discard(spec.Name, generation);
            string problem = staged.Where(task => task.IsFaulted).Select(task => task.Exception!.InnerException!.Message).First();
            _logger.LogError("Reload of model {Model} failed, the weights in use go on serving: {Problem}", spec.Name, problem);
            return ReloadOutcome.Failed(spec.Name, trigger, problem);
        }
        _generations.Swap(spec.Name, generation);
        foreach (var device in devices) _ = device.Activate(spec.Name, generation);   // and dispose the old weights once nothing is pinned to them
        var info = staged[0].Result;
        _logger.LogInformation("Reloaded model {Model}: new requests get sha256 {Sha256}", spec.Name, info.Sha256);
        return ReloadOutcome.Succeeded(spec.Name, trigger, info);
    }

    public void Dispose()
    {
        _drainEnded.Dispose();
        foreach (var gate in _reloading.Values) gate.Dispose();
    }

    private static bool Same(string name, string other) => string.Equals(name, other, StringComparison.OrdinalIgnoreCase);

    /// <summary>From now on every new request is answered 503 and readiness is down (on ApplicationStopping, e.g. SIGTERM).</summary>
    internal void StopAdmitting()
    {
        if (Interlocked.Exchange(ref _admissionStopped, 1) == 1) return;
        _logger.LogInformation("Shutting down: readiness is down and new predictions get 503; {Unanswered} admitted requests ({Queued} queued) go on",
            _queue.Unanswered, _queue.Count);
    }

    /// <summary>Closes the queue (the devices end once it is empty) and gives the admitted work <see cref="ModelOptions.DrainSeconds"/>.</summary>
    private void StartDrain()
    {
        if (Interlocked.Exchange(ref _drainStarted, 1) == 1) return;
        StopAdmitting();
        _queue.Close();
        _logger.LogInformation("Draining: {Unanswered} admitted requests ({Queued} queued) get up to {DrainSeconds} s to finish",
            _queue.Unanswered, _queue.Count, _options.DrainSeconds);
        _drainEnded.CancelAfter(TimeSpan.FromSeconds(_options.DrainSeconds));
    }

    /// <summary>When the drain ends: the devices stop at their next cancellation point, and whatever is unanswered gets 503.</summary>
    private void AnswerWhatTheDrainLeft()
    {
        if (_queue.Unanswered > 0)
            _logger.LogWarning("The drain of {DrainSeconds} s ended with {Unanswered} requests unanswered ({Queued} queued): stopping the model and answering them 503",
                _options.DrainSeconds, _queue.Unanswered, _queue.Count);
        _queue.FailUnanswered(ModelUnavailableException.DrainEnded());
    }

    /// <summary>When every model has failed on every device nobody will read the queue: answer what is in it and take nothing more.</summary>
    private void OnDeviceFailed()
    {
        if (!_served.All(model => StateOf(model.Name) == ModelState.Failed)) return;
        _queue.Close();
        _queue.FailUnanswered(ModelUnavailableException.Failed());
    }
}
