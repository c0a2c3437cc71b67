using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Conway.Api.Serving;

/// <summary>Ready once the model is loaded; reports what was loaded and the queue length.</summary>
public sealed class ModelHealthCheck(ModelWorker worker) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(worker.State switch
        {
            ModelState.Ready when worker.Info is { } info => HealthCheckResult.Healthy("The model is loaded.", new Dictionary<string, object>
            {
                ["path"] = info.Path,
                ["sha256"] = info.Sha256,
                ["parameters"] = info.Parameters,
                ["dtype"] = info.DType,
                ["device"] = info.Device,
                ["loadTimeMs"] = Math.Round(info.LoadTime.TotalMilliseconds),
                ["queueLength"] = worker.QueueLength,
            }),
            ModelState.Failed => HealthCheckResult.Unhealthy("The model failed to load; see the service log."),
            _ => HealthCheckResult.Unhealthy("The model is loading."),
        });
}
