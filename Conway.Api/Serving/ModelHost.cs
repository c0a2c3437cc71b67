using Conway.Boards;
using Conway.Decoding;
using Microsoft.Extensions.Options;
using Polly.CircuitBreaker;

namespace Conway.Api.Serving;

/// <summary>
/// The hosted service that owns the model: one <see cref="DeviceWorker"/> thread per device of
/// <see cref="ModelOptions.Devices"/>, all serving the one bounded queue, admission to that queue, and the shutdown
/// protocol (SIGTERM, or any host stop):
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
    private readonly CancellationTokenSource _drainEnded = new();
    private IReadOnlyList<DeviceWorker> _devices = [];
    private int _admissionStopped;
    private int _drainStarted;

    public ModelHost(PredictorFactory factory, IOptions<ModelOptions> options, PredictorResilience resilience, ThroughputEstimate estimate,
        ServingMetrics metrics, IHostApplicationLifetime lifetime, ILogger<ModelHost> logger)
    {
        (_factory, _options, _resilience, _estimate, _metrics, _lifetime, _logger) = (factory, options.Value, resilience, estimate, metrics, lifetime, logger);
        _queue = new WorkQueue(_options, estimate, item => metrics.Dropped(item.Expired));
        metrics.Observe(() => _queue.QueuedBoards, () => resilience.OpenFor > TimeSpan.Zero);
    }

    /// <summary>Ready while at least one device serves; failed once every device has failed.</summary>
    public ModelState State =>
        _devices.Any(device => device.Status.State == ModelState.Ready) ? ModelState.Ready
        : _devices.Count > 0 && _devices.All(device => device.Status.State == ModelState.Failed) ? ModelState.Failed
        : ModelState.Loading;

    /// <summary>What was loaded (on the first ready device); null until <see cref="State"/> is <see cref="ModelState.Ready"/>.</summary>
    public ModelInfo? Info => _devices.Select(device => device.Info).FirstOrDefault(info => info is not null);

    public IReadOnlyList<DeviceStatus> Devices => [.. _devices.Select(device => device.Status)];

    /// <summary>Devices serving now (loaded, warmed up, self-test passed).</summary>
    public int ServingDevices => _devices.Count(device => device.Status.State == ModelState.Ready);

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
    public Task<Served> Submit(IReadOnlyList<Board> boards, DecodeOptions decode, string requestId, long deadline, CancellationToken cancellation,
        bool continuing = false)
    {
        if (!Admitting) return Task.FromException<Served>(ModelUnavailableException.ShuttingDown());
        if (State == ModelState.Failed) return Task.FromException<Served>(ModelUnavailableException.Failed());
        if (State == ModelState.Loading) return Task.FromException<Served>(ModelUnavailableException.Loading());
        if (_resilience.OpenFor is { Ticks: > 0 } openFor)
            return Task.FromException<Served>(new BrokenCircuitException("The circuit around the model is open.", openFor));
        var item = new WorkItem(boards, decode, requestId, deadline, cancellation);
        return _queue.TryAdd(item, ServingDevices, continuing) switch
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
            .Select(device => new DeviceWorker(device, _options, _factory, _queue, _resilience, _estimate, _metrics, _logger, OnDeviceFailed, _drainEnded.Token))];
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

    public void Dispose() => _drainEnded.Dispose();

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

    /// <summary>When the last device has failed nobody will read the queue: answer what is in it and take nothing more.</summary>
    private void OnDeviceFailed()
    {
        if (State != ModelState.Failed) return;
        _queue.Close();
        _queue.FailUnanswered(ModelUnavailableException.Failed());
    }
}
