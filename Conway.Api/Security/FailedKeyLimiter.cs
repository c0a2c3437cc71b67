using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Options;

namespace Conway.Api.Security;

/// <summary>
/// Throttles API key guessing per client (remote IP): once a client has presented <see cref="AuthOptions.MaxFailures"/>
/// wrong keys within <see cref="AuthOptions.FailureWindowSeconds"/> of its first one, each further attempt from it, with
/// any key, is refused (429 with Retry-After) until that window has passed. Windows that have passed are swept out as
/// the table grows, so it holds only recent offenders.
/// </summary>
public sealed class FailedKeyLimiter(IOptions<AuthOptions> options, ILogger<FailedKeyLimiter> logger, TimeProvider? time = null)
{
    private const int MinSweep = 1024;
    private readonly int _maxFailures = options.Value.MaxFailures;
    private readonly TimeSpan _window = TimeSpan.FromSeconds(options.Value.FailureWindowSeconds);
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly ConcurrentDictionary<string, Window> _clients = new();
    private int _sweepAt = MinSweep;

    /// <param name="Started">When the client's first wrong key of this window came (a <see cref="TimeProvider"/> timestamp).</param>
    /// <param name="Failures">The wrong keys since.</param>
    private readonly record struct Window(long Started, int Failures);

    /// <summary>The client a request comes from, as this limiter counts them: its IP address (IPv4 for IPv4-mapped IPv6).</summary>
    public static string ClientOf(HttpContext context) => context.Connection.RemoteIpAddress switch
    {
        { IsIPv4MappedToIPv6: true } mapped => mapped.MapToIPv4().ToString(),
        IPAddress address => address.ToString(),
        null => "unknown",
    };

    /// <summary>How long <paramref name="client"/> must wait before presenting a key again; null when it may now.</summary>
    public TimeSpan? RetryAfter(string client)
    {
        if (_maxFailures == 0 || !_clients.TryGetValue(client, out var window) || window.Failures < _maxFailures) return null;
        var left = _window - _time.GetElapsedTime(window.Started);
        return left > TimeSpan.Zero ? left : null;
    }

    /// <summary>Counts a wrong key from <paramref name="client"/>; the one that reaches the limit is logged as a warning.</summary>
    public void Failed(string client)
    {
        if (_maxFailures == 0) return;
        long now = _time.GetTimestamp();
        var window = _clients.AddOrUpdate(client, _ => new Window(now, 1),
            (_, current) => _time.GetElapsedTime(current.Started, now) >= _window ? new Window(now, 1) : current with { Failures = current.Failures + 1 });
        if (window.Failures == _maxFailures)
            logger.LogWarning("{Client} presented {Failures} wrong API keys within {WindowSeconds} s; its attempts get 429 until the window passes",
                client, window.Failures, _window.TotalSeconds);
        if (_clients.Count > Volatile.Read(ref _sweepAt)) Sweep(now);
    }

    private void Sweep(long now)
    {
        foreach (var (client, window) in _clients)
            if (_time.GetElapsedTime(window.Started, now) >= _window) _clients.TryRemove(KeyValuePair.Create(client, window));
        Volatile.Write(ref _sweepAt, Math.Max(MinSweep, 2 * _clients.Count));
    }
}
