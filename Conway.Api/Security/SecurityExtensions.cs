using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Conway.Api.Security;

public static class SecurityExtensions
{
    public const string ApiKeyPolicy = "ApiKey";

    /// <summary>API keys and the limit on wrong ones (section "Auth"), and the per-client limit in boards (section "RateLimit", <see cref="ClientBoardLimiter"/>).</summary>
    public static void AddApiSecurity(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<AuthOptions>().BindConfiguration(AuthOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<RateLimitOptions>().BindConfiguration(RateLimitOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<ApiKeys>();
        builder.Services.AddSingleton<FailedKeyLimiter>();
        builder.Services.AddAuthentication(ApiKeyHandler.SchemeName).AddScheme<AuthenticationSchemeOptions, ApiKeyHandler>(ApiKeyHandler.SchemeName, null);
        builder.Services.AddAuthorizationBuilder().AddPolicy(ApiKeyPolicy, policy => policy.RequireAuthenticatedUser());
        builder.Services.AddSingleton<ClientBoardLimiter>();
    }

    /// <summary>Authentication and authorization; with <see cref="AuthOptions.ProtectDocs"/>, also Swagger UI behind the key.</summary>
    public static void UseApiSecurity(this WebApplication app)
    {
        app.UseAuthentication();
        app.UseAuthorization();
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

    /// <summary>
    /// For operations that change the instance (a model reload): a valid <c>X-Api-Key</c> always; with no keys configured
    /// they are refused with 403, since anyone could call them.
    /// </summary>
    public static RouteHandlerBuilder RequireAdministration(this RouteHandlerBuilder builder, IEndpointRouteBuilder app) =>
        app.ServiceProvider.GetRequiredService<ApiKeys>().Required
            ? builder.RequireAuthorization(ApiKeyPolicy)
            : builder.AddEndpointFilter((_, _) => ValueTask.FromResult<object?>(Http.Problems.Status(StatusCodes.Status403Forbidden, AdministrationNeedsKeys)));

    public const string AdministrationNeedsKeys = "This operation changes the instance, so it needs an API key; configure Auth:ApiKeys to enable it.";
}
