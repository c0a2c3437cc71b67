using System.ComponentModel.DataAnnotations;

namespace Conway.Api.Security;

/// <summary>API keys, and the limit on wrong ones. Bound from the "Auth" section (env <c>Auth__ApiKeys__0</c>, <c>Auth__ApiKeys__1</c>, ...).</summary>
public sealed class AuthOptions : IValidatableObject
{
    public const string Section = "Auth";
    public const int MinKeyLength = 16;

    /// <summary>
    /// Keys accepted in the <c>X-Api-Key</c> header by the prediction endpoints; none (the default) leaves the API
    /// open. Health endpoints are always open (probes carry no secrets).
    /// </summary>
    public string[] ApiKeys { get; set; } = [];

    /// <summary>Also require a key for the OpenAPI document and Swagger UI.</summary>
    public bool ProtectDocs { get; set; }

    /// <summary>Also require a key for <c>/metrics</c> (give the scraper the key).</summary>
    public bool ProtectMetrics { get; set; }

    /// <summary>
    /// Wrong keys a client (IP address) may present within <see cref="FailureWindowSeconds"/>; after that its attempts get
    /// 429 with Retry-After, whatever key they carry, until the window passes. 0 turns the limit off.
    /// </summary>
    [Range(0, 1_000_000)]
    public int MaxFailures { get; set; } = 10;

    /// <summary>The window of <see cref="MaxFailures"/>, from a client's first wrong key, in seconds.</summary>
    [Range(1, 86_400)]
    public int FailureWindowSeconds { get; set; } = 60;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (ApiKeys.Any(key => key.Length < MinKeyLength))
            yield return new ValidationResult($"Every Auth:ApiKeys entry must be at least {MinKeyLength} characters.", [nameof(ApiKeys)]);
    }
}

/// <summary>Per-client rate limit on the prediction endpoints (a token bucket per API key, or per IP without one). Bound from "RateLimit".</summary>
public sealed class RateLimitOptions
{
    public const string Section = "RateLimit";

    /// <summary>Boards a client may send per second, sustained; 0 turns the limit off.</summary>
    [Range(0, 1_000_000)]
    public int PermitsPerSecond { get; set; } = 20;

    /// <summary>Boards a client may send at once after being idle (the bucket's size; a bigger request takes all of it).</summary>
    [Range(1, 1_000_000)]
    public int Burst { get; set; } = 40;
}
