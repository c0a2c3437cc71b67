using System.Security.Claims;
using System.Text.Encodings.Web;
using Conway.Api.Http;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Conway.Api.Security;

/// <summary>
/// The <c>X-Api-Key</c> authentication scheme: a request with a configured key is authenticated as that key's id;
/// a challenge is a 401 problem detail, or 429 with Retry-After while the client is throttled for wrong keys
/// (<see cref="FailedKeyLimiter"/>). Only wrong keys sent where a key is required count against the client.
/// </summary>
public sealed class ApiKeyHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiKeys keys,
    FailedKeyLimiter failures, IProblemDetailsService problems)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string Header = "X-Api-Key";

    /// <summary>The 401's detail when no key was sent.</summary>
    public const string NoKey = $"Send an API key in the {Header} header.";

    /// <summary>The 401's detail when the key sent is not one of the configured ones.</summary>
    public const string WrongKey = $"The API key in {Header} is not valid.";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!keys.Required || Request.Headers[Header] is not [{ Length: > 0 } presented]) return Task.FromResult(AuthenticateResult.NoResult());
        if (failures.RetryAfter(FailedKeyLimiter.ClientOf(Context)) is { } wait) return Task.FromResult(AuthenticateResult.Fail(new ThrottledException(wait)));
        return Task.FromResult(keys.Identify(presented) is { } id
            ? AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, id)], SchemeName)), SchemeName))
            : AuthenticateResult.Fail("The API key is not valid."));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync();
        if (result.Failure is ThrottledException throttled)
        {
            Problems.SetRetryAfter(Response, throttled.RetryAfter);
            await WriteAsync(StatusCodes.Status429TooManyRequests, "Too Many Requests",
                "Too many wrong API keys from this client; retry after the Retry-After seconds.");
            return;
        }
        if (result.Failure is not null) failures.Failed(FailedKeyLimiter.ClientOf(Context));
        Response.Headers.WWWAuthenticate = $"{SchemeName} header=\"{Header}\"";
        await WriteAsync(StatusCodes.Status401Unauthorized, "Unauthorized", result.Failure is not null ? WrongKey : NoKey);
    }

    private async Task WriteAsync(int status, string title, string detail)
    {
        Response.StatusCode = status;
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails = { Status = status, Title = title, Detail = detail },
        });
    }

    /// <summary>The failure of a key not even checked, because its client is throttled for wrong keys.</summary>
    private sealed class ThrottledException(TimeSpan retryAfter) : Exception("Too many wrong API keys from this client.")
    {
        public TimeSpan RetryAfter { get; } = retryAfter;
    }
}
