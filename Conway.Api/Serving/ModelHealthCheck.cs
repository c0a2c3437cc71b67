using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Conway.Api.Serving;

/// <summary>
/// Readiness: the model is loaded, warmed up and passed its self-test on at least one device, the circuit breaker
/// is not holding it open, and the instance is not shutting down. Reports the devices, circuit and queue, and the
/// model by its file name, <see cref="ModelVersion"/> and sha256, never by its path: readiness is open to anyone.
/// </summary>
public sealed class ModelHealthCheck(ModelHost host, PredictorResilience resilience) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object>
        {
            ["devices"] = host.Devices,
            ["circuit"] = resilience.Circuit.ToString().ToLowerInvariant(),
            ["queueLength"] = host.QueueLength,
        };
        if (host.Info is { } info)
        {
            data["file"] = Path.GetFileName(info.Path);
            data["version"] = ModelVersion.Of(info);
            data["sha256"] = info.Sha256;
            data["parameters"] = info.Parameters;
            data["dtype"] = info.DType;
        }
        return Task.FromResult(Check() is { } problem
            ? HealthCheckResult.Unhealthy(problem, data: data)
            : HealthCheckResult.Healthy("The model is loaded, warmed up and passed its self-test.", data));
    }

    private string? Check() => host.State switch
    {
        _ when !host.Admitting => "The instance is shutting down.",
        ModelState.Loading => "The model is loading.",
        ModelState.Failed => host.Devices[0].Problem,
        _ when resilience.OpenFor > TimeSpan.Zero =>
            $"The model failed repeatedly; the circuit breaker holds it for {Math.Ceiling(resilience.OpenFor.TotalSeconds)} s more.",
        _ => null,
    };
}
