using System.Threading.RateLimiting;
using Conway.Api.Endpoints;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace Conway.Api.Security;

public static class SecurityExtensions
{
    public const string ApiKeyPolicy = "ApiKey";
    public const string PerClientLimit = "PerClient";

    /// <summary>API keys and the limit on wrong ones (section "Auth"), and the per-client rate limiter (section "RateLimit").</summary>
    public static void AddApiSecurity(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<AuthOptions>().BindConfiguration(AuthOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<RateLimitOptions>().BindConfiguration(RateLimitOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<ApiKeys>();
        builder.Services.AddSingleton<FailedKeyLimiter>();
        builder.Services.AddAuthentication(ApiKeyHandler.SchemeName).AddScheme<AuthenticationSchemeOptions, ApiKeyHandler>(ApiKeyHandler.SchemeName, null);
        builder.Services.AddAuthorizationBuilder().AddPolicy(ApiKeyPolicy, policy => policy.RequireAuthenticatedUser());
        builder.Services.AddRateLimiter(options =>
        {
            options.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            options.AddPolicy(PerClientLimit, PerClient);
            options.OnRejected = RejectAsync;
        });
    }

    /// <summary>Authentication, authorization and rate limiting, in that order; with <see cref="AuthOptions.ProtectDocs"/>, also Swagger UI behind the key.</summary>
    public static void UseApiSecurity(this WebApplication app)
    {
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRateLimiter();
        if (app.Services.GetRequiredService<IOptions<AuthOptions>>().Value.ProtectDocs && app.Services.GetRequiredService<ApiKeys>().Required)
            app.UseWhen(context => context.Request.Path.StartsWithSegments("/swagger"), swagger => swagger.Use(async (context, next) =>
            {
                if (context.User.Identity?.IsAuthenticated == true) await next(context);
                else await context.ChallengeAsync(ApiKeyHandler.SchemeName);
            }));
    }

    /// <summary>Requires a valid <c>X-Api-Key</c> when keys are configured and <paramref name="protect"/>; else leaves the endpoints open.</summary>
    public static TBuilder RequireApiKey<TBuilder>(this TBuilder builder, IEndpointRouteBuilder app, bool protect = true) where TBuilder : IEndpointConventionBuilder =>
        protect && app.ServiceProvider.GetRequiredService<ApiKeys>().Required ? builder.RequireAuthorization(ApiKeyPolicy) : builder;

    /// <summary>A token bucket per client: its API key's id when it sent a valid one, else its IP address.</summary>
    private static RateLimitPartition<string> PerClient(HttpContext context)
    {
        var limit = context.RequestServices.GetRequiredService<IOptions<RateLimitOptions>>().Value;
        if (limit.PermitsPerSecond == 0) return RateLimitPartition.GetNoLimiter("off");
        string client = context.User.Identity?.Name ?? $"ip-{context.Connection.RemoteIpAddress}";
        return RateLimitPartition.GetTokenBucketLimiter(client, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = limit.Burst,
            TokensPerPeriod = limit.PermitsPerSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        });
    }

    private static async ValueTask RejectAsync(OnRejectedContext rejected, CancellationToken cancellationToken)
    {
        var limit = rejected.HttpContext.RequestServices.GetRequiredService<IOptions<RateLimitOptions>>().Value;
        var retryAfter = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromSeconds(1);
        Problems.SetRetryAfter(rejected.HttpContext.Response, retryAfter);
        await Problems.Status(StatusCodes.Status429TooManyRequests,
                $"Too many requests from this client: the limit is {limit.PermitsPerSecond} per second, bursts of {limit.Burst}; retry after the Retry-After seconds.")
            .ExecuteAsync(rejected.HttpContext);
    }
}
