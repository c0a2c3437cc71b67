namespace Conway.Api.Security;

/// <summary>
/// Browser hardening headers on every response: a Content-Security-Policy, <c>X-Content-Type-Options: nosniff</c>,
/// <c>Referrer-Policy: no-referrer</c> and <c>X-Frame-Options: DENY</c>. They are set as the response starts, so
/// answers that were cleared on the way (the exception handler's) carry them too.
/// </summary>
public static class SecurityHeaders
{
    /// <summary>
    /// The page's policy, and the policy of every other answer: scripts, styles, fetches and images from this origin
    /// only (no inline script or style, no eval), the empty <c>data:</c> favicon, no plugins, no base URL or form
    /// posts elsewhere, and no framing.
    /// </summary>
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    /// <summary>
    /// Swagger UI's (under /swagger): the page's, with inline styles allowed, because swagger-ui-bundle.js injects a
    /// <c>&lt;style&gt;</c> element (without it Swagger UI works but the browser reports a violation). Its scripts are
    /// files (Swashbuckle 10's index.html has no inline script), so script-src stays 'self'.
    /// </summary>
    public const string SwaggerContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; " +
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    public const string SwaggerPath = "/swagger";

    /// <summary>Sets the headers on every response; goes first, so that none is left out.</summary>
    public static void UseSecurityHeaders(this WebApplication app) => app.Use((context, next) =>
    {
        context.Response.OnStarting(() =>
        {
            var headers = context.Response.Headers;
            headers.ContentSecurityPolicy = context.Request.Path.StartsWithSegments(SwaggerPath) ? SwaggerContentSecurityPolicy : ContentSecurityPolicy;
            headers.XContentTypeOptions = "nosniff";
            headers["Referrer-Policy"] = "no-referrer";
            headers.XFrameOptions = "DENY";
            return Task.CompletedTask;
        });
        return next(context);
    });
}
