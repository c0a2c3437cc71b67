using Conway.Api.Serving;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using JsonOptions = Microsoft.AspNetCore.Http.Json.JsonOptions;

namespace Conway.Api.Endpoints;

public static class HealthEndpoints
{
    /// <summary>
    /// <c>/healthz/live</c>: 200 while the process runs, running no check (it never touches the model).
    /// <c>/healthz/ready</c>: 200 while the model serves (see <see cref="ModelHealthCheck"/>), else 503. Both answer
    /// JSON: the overall status and each check's status, description and data. Always open (no API key).
    /// </summary>
    public static IEndpointRouteBuilder MapHealthEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapHealthChecks("/healthz/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteAsync });
        app.MapHealthChecks("/healthz/ready", new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(ServingExtensions.ReadyTag),
            ResponseWriter = WriteAsync,
        });
        return app;
    }

    private static Task WriteAsync(HttpContext context, HealthReport report) =>
        context.Response.WriteAsJsonAsync(
            new
            {
                report.Status,
                Checks = report.Entries.ToDictionary(
                    entry => entry.Key,
                    entry => new { entry.Value.Status, entry.Value.Description, entry.Value.Data }),
            },
            context.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions);
}
