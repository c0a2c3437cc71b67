using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Conway.Api.Serving;

/// <summary>
/// Readiness: the default model is loaded, warmed up and passed its self-test on at least one device, the circuit
/// breaker is not holding it open, and the instance is not shutting down. Reports the devices (each model's state on
/// each), circuit and queue, and each model by name, state, file name, <see cref="ModelVersion"/> and sha256 (the
/// default's also at the top level), never by its path: readiness is open to anyone. Another model that failed does not
/// make the instance unready: its requests get 503, and <c>models</c> says why.
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
        if (host.Info(host.Served[0].Name) is { } info)
        {
            data["file"] = Path.GetFileName(info.Path);
            data["version"] = ModelVersion.Of(info);
            data["sha256"] = info.Sha256;
            data["parameters"] = info.Parameters;
            data["dtype"] = info.DType;
        }
        data["models"] = host.Served.Select(model => new
        {
            name = model.Name,
            state = host.StateOf(model.Name).ToString().ToLowerInvariant(),
            @default = model.IsDefault,
            version = host.Info(model.Name) is { } loaded ? ModelVersion.Of(loaded) : null,
        }).ToList();
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
