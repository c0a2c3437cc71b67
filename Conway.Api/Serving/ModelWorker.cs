using Conway.Boards;
using Conway.Decoding;
using Microsoft.Extensions.Options;
using Polly.CircuitBreaker;

namespace Conway.Api.Serving;

/// <summary>
/// Owns the model: one <see cref="DeviceWorker"/> thread per device of <see cref="ModelOptions.Devices"/>, all
/// serving the one bounded queue, and admission to that queue. On shutdown (ApplicationStopping, e.g. SIGTERM) it
/// stops admitting at once; when the host stops it, what is already queued is still served, for as long as the
/// host's shutdown timeout allows, and whatever is left then is answered 503.
/// </summary>
public sealed class ModelWorker : IHostedService
{
    private readonly ModelOptions _options;
    private readonly PredictorFactory _factory;
    private readonly InferenceEngine _engine;
    private readonly ServingMetrics _metrics;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger<ModelWorker> _logger;
    private readonly WorkQueue _queue;
    private IReadOnlyList<DeviceWorker> _devices = [];
    private volatile bool _admitting = true;

    public ModelWorker(PredictorFactory factory, IOptions<ModelOptions> options, InferenceEngine engine, ServingMetrics metrics,
        IHostApplicationLifetime lifetime, ILogger<ModelWorker> logger)
    {
        (_factory, _options, _engine, _metrics, _lifetime, _logger) = (factory, options.Value, engine, metrics, lifetime, logger);
        _queue = new WorkQueue(_options);
        metrics.Observe(() => QueueLength, () => engine.OpenFor > TimeSpan.Zero);
    }

    /// <summary>Ready while at least one device serves; failed once every device has failed.</summary>
    public ModelState State =>
        _devices.Any(device => device.Status.State == ModelState.Ready) ? ModelState.Ready
        : _devices.Count > 0 && _devices.All(device => device.Status.State == ModelState.Failed) ? ModelState.Failed
        : ModelState.Loading;

    /// <summary>What was loaded (on the first ready device); null until <see cref="State"/> is <see cref="ModelState.Ready"/>.</summary>
    public ModelInfo? Info => _devices.Select(device => device.Info).FirstOrDefault(info => info is not null);

    public IReadOnlyList<DeviceStatus> Devices => [.. _devices.Select(device => device.Status)];

    /// <summary>Work items waiting for the model.</summary>
    public int QueueLength => _queue.Count;

    /// <summary>False from the moment the application starts stopping.</summary>
    public bool Admitting => _admitting;

    /// <summary>
    /// Queues the boards as one work item (so they go to the model together); null at once when the queue is full.
    /// The task faults with <see cref="ModelUnavailableException"/> when no device can serve or the instance is
    /// shutting down, with <see cref="BrokenCircuitException"/> while the circuit is open, and is cancelled when
    /// <paramref name="cancellation"/> (client gone or <paramref name="deadline"/> passed) fires before its batch starts.
    /// </summary>
    public Task<Served>? TryEnqueue(IReadOnlyList<Board> boards, DecodeOptions decode, string requestId, long deadline, CancellationToken cancellation)
    {
        if (!_admitting) return Task.FromException<Served>(ModelUnavailableException.ShuttingDown());
        if (State == ModelState.Failed) return Task.FromException<Served>(ModelUnavailableException.Failed());
        if (_engine.OpenFor is { Ticks: > 0 } openFor)
            return Task.FromException<Served>(new BrokenCircuitException("The circuit around the model is open.", openFor));
        var item = new WorkItem(boards, decode, requestId, deadline, cancellation);
        return _queue.TryAdd(item) ? item.Completion.Task : null;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _lifetime.ApplicationStopping.Register(StopAdmitting);
        _devices = [.. DeviceList.Resolve(_options.Devices, DeviceList.VisibleGpus)
            .Select(device => new DeviceWorker(device, _options, _factory, _queue, _engine, _metrics, _logger, OnDeviceFailed))];
        _logger.LogInformation("Serving on {Count} device(s): {Devices}", _devices.Count, _devices.Select(device => device.Status.Device));
        foreach (var device in _devices) device.Start();
        return Task.CompletedTask;
    }

    /// <summary>Drains: closes the queue and waits, until <paramref name="cancellationToken"/> (the shutdown timeout), for the devices to serve what is in it.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        StopAdmitting();
        _queue.Close();
        try
        {
            await Task.WhenAll(_devices.Select(device => device.Stopped)).WaitAsync(cancellationToken);
            _logger.LogInformation("Drained: every queued request was served");
        }
        catch (OperationCanceledException)
        {
            _logger.LogWarning("The shutdown timeout passed with {Queued} requests still queued; answering them 503", _queue.Count);
        }
        _queue.FailAll(ModelUnavailableException.ShuttingDown());
    }

    /// <summary>From now on every new request is answered 503 and readiness is down (on ApplicationStopping, e.g. SIGTERM).</summary>
    internal void StopAdmitting()
    {
        if (!_admitting) return;
        _admitting = false;
        _logger.LogInformation("Shutting down: admitting no new work, finishing {Queued} queued requests", _queue.Count);
    }

    /// <summary>When the last device has failed nobody will read the queue: answer what is in it and take nothing more.</summary>
    private void OnDeviceFailed()
    {
        if (State != ModelState.Failed) return;
        _queue.Close();
        _queue.FailAll(ModelUnavailableException.Failed());
    }
}
