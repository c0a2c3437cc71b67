using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace Conway.Api.Security;

/// <summary>
/// The per-client rate limit, in boards (what costs the model), not requests: per client (its API key's id when it sent
/// a valid one, else its IP address) a token bucket of <see cref="RateLimitOptions.PermitsPerSecond"/> boards a second
/// and bursts of <see cref="RateLimitOptions.Burst"/>. A request takes a token per board, a whole burst at most (so a
/// request bigger than the burst can pass from an idle client). Off when PermitsPerSecond is 0.
/// </summary>
public sealed class ClientBoardLimiter : IDisposable
{
    private readonly RateLimitOptions _options;
    private readonly PartitionedRateLimiter<string> _buckets;

    public ClientBoardLimiter(IOptions<RateLimitOptions> options)
    {
        _options = options.Value;
        _buckets = PartitionedRateLimiter.Create<string, string>(client => RateLimitPartition.GetTokenBucketLimiter(client, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = _options.Burst,
            TokensPerPeriod = _options.PermitsPerSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        }));
    }

    public bool Enabled => _options.PermitsPerSecond > 0;

    /// <summary>Takes the request's boards from its client's bucket; null when they fit (or there is no limit), else when to retry.</summary>
    public TimeSpan? TryTake(HttpContext context, int boards)
    {
        if (!Enabled) return null;
        string client = context.User.Identity?.Name ?? $"ip-{context.Connection.RemoteIpAddress}";
        using var lease = _buckets.AttemptAcquire(client, Math.Min(boards, _options.Burst));
        if (lease.IsAcquired) return null;
        return lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromSeconds(1);
    }

    public string Describe() =>
        $"Too many boards from this client: the limit is {_options.PermitsPerSecond} boards per second, bursts of {_options.Burst}; retry after the Retry-After seconds.";

    public void Dispose() => _buckets.Dispose();
}
