using Conway.Api.Security;
using Conway.Api.Serving;
using Microsoft.Extensions.Options;
using Prometheus;

namespace Conway.Api.Observability;

public static class MetricsExtensions
{
    /// <summary>The service's own Prometheus registry (process and .NET runtime metrics included) and <see cref="ServingMetrics"/>.</summary>
    public static IServiceCollection AddServingMetrics(this IServiceCollection services)
    {
        services.AddSingleton(_ =>
        {
            var registry = Metrics.NewCustomRegistry();
            DotNetStats.Register(registry);
            return registry;
        });
        return services.AddSingleton<ServingMetrics>();
    }

    /// <summary>
    /// Counts every request by endpoint, method (<see cref="MethodLabels"/>) and status code, and times it
    /// (<c>http_request_duration_seconds</c>).
    /// </summary>
    public static IApplicationBuilder UseRequestMetrics(this WebApplication app)
    {
        var registry = app.Services.GetRequiredService<CollectorRegistry>();
        app.UseKnownMethodsOnly();
        return app.UseHttpMetrics(options => options.SetMetricFactory(Metrics.WithCustomRegistry(registry)));
    }

    /// <summary><c>/metrics</c> in Prometheus text format; behind the API key when <see cref="AuthOptions.ProtectMetrics"/>.</summary>
    public static IEndpointConventionBuilder MapMetricsEndpoint(this WebApplication app) =>
        app.MapMetrics("/metrics", app.Services.GetRequiredService<CollectorRegistry>())
            .ExcludeFromDescription()
            .RequireApiKey(app, app.Services.GetRequiredService<IOptions<AuthOptions>>().Value.ProtectMetrics);
}
