using System.Net;
using System.Text.Json;
using Conway.Api.Security;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using static Conway.Api.Tests.Given;

namespace Conway.Api.Tests;

/// <summary>API keys on the prediction endpoints (and optionally docs and metrics), and the per-client rate limit.</summary>
public sealed class SecurityTests
{
    private const string KeyA = "key-a-0123456789abcdef";
    private const string KeyB = "key-b-0123456789abcdef";

    private static ApiFactory WithKeys(params (string Key, string Value)[] more)
    {
        var api = new ApiFactory { Settings = { ["Auth:ApiKeys:0"] = KeyA, ["Auth:ApiKeys:1"] = KeyB } };
        foreach (var (key, value) in more) api.Settings[key] = value;
        return api;
    }

    private static HttpRequestMessage Predict(string? apiKey)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/predict") { Content = Json(new { board = Glider.ToRows() }) };
        if (apiKey is not null) request.Headers.Add("X-Api-Key", apiKey);
        return request;
    }

    [Theory]
    [InlineData(null, HttpStatusCode.Unauthorized, "Send an API key in the X-Api-Key header.")]
    [InlineData("key-a-0123456789abcdeX", HttpStatusCode.Unauthorized, "The API key in X-Api-Key is not valid.")]
    [InlineData("", HttpStatusCode.Unauthorized, "Send an API key")]
    [InlineData(KeyA, HttpStatusCode.OK, null)]
    [InlineData(KeyB, HttpStatusCode.OK, null)]
    public async Task WithApiKeys_PredictNeedsOneOfThem_ElseA401ProblemDetail(string? apiKey, HttpStatusCode status, string? detail)
    {
        await using var api = WithKeys();

        var response = await api.CreateClient().SendAsync(Predict(apiKey));

        Assert.Equal(status, response.StatusCode);
        if (detail is null) return;
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("ApiKey header=\"X-Api-Key\"", response.Headers.WwwAuthenticate.ToString());
        Assert.Contains(detail, (string)(await BodyOf(response))["detail"]!);
    }

    [Fact]
    public async Task WrongKeysPastAuthMaxFailures_Get429WithRetryAfter_ThenEvenTheRightKey_WhileHealthStaysOpen()
    {
        await using var api = WithKeys(("Auth:MaxFailures", "3"), ("Auth:FailureWindowSeconds", "60"));
        var client = api.CreateClient();

        var wrong = new List<HttpStatusCode>();
        for (int i = 0; i < 3; i++) wrong.Add((await client.SendAsync(Predict($"wrong-key-{i}-0123456789"))).StatusCode);
        var throttled = await client.SendAsync(Predict("wrong-key-3-0123456789"));
        var right = await client.SendAsync(Predict(KeyA));

        Assert.Equal([HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized], wrong);
        foreach (var refused in new[] { throttled, right })
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            Assert.InRange(refused.Headers.RetryAfter?.Delta?.TotalSeconds ?? 0, 1, 60);
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
            Assert.Contains("Too many wrong API keys from this client", (string)(await BodyOf(refused))["detail"]!);
        }
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz/live")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(Predict(null))).StatusCode);
        Assert.Single(api.Logs.AtLeast(LogLevel.Warning), entry => entry.Message.Contains("presented 3 wrong API keys within 60 s"));
    }

    [Fact]
    public async Task WrongKeys_AreCountedPerClientIp()
    {
        await using var api = WithKeys(("Auth:MaxFailures", "2"));
        api.CreateClient();

        for (int i = 0; i < 2; i++) Assert.Equal(401, (await PredictFrom(api, "10.0.0.1", "wrong-key-0123456789")).Response.StatusCode);

        Assert.Equal(429, (await PredictFrom(api, "10.0.0.1", KeyA)).Response.StatusCode);
        Assert.Equal(429, (await PredictFrom(api, "::ffff:10.0.0.1", KeyA)).Response.StatusCode);
        Assert.Equal(200, (await PredictFrom(api, "10.0.0.2", KeyA)).Response.StatusCode);
    }

    [Fact]
    public async Task WrongKeysWhereNoKeyIsNeeded_AreNotCounted()
    {
        await using var api = WithKeys(("Auth:MaxFailures", "1"));
        var client = api.CreateClient();
        client.DefaultRequestHeaders.Add("X-Api-Key", "wrong-key-0123456789");

        for (int i = 0; i < 3; i++) Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz/live")).StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await api.CreateClient().SendAsync(Predict(KeyA))).StatusCode);
    }

    [Fact]
    public void FailedKeyLimiter_ForgetsAClientsWrongKeysOnceItsWindowHasPassed()
    {
        var clock = new ManualClock();
        var limiter = new FailedKeyLimiter(Options.Create(new AuthOptions { MaxFailures = 2, FailureWindowSeconds = 10 }), NullLogger<FailedKeyLimiter>.Instance, clock);

        limiter.Failed("a");
        clock.Advance(TimeSpan.FromSeconds(4));
        Assert.Null(limiter.RetryAfter("a"));
        limiter.Failed("a");
        Assert.Equal(TimeSpan.FromSeconds(6), limiter.RetryAfter("a"));
        Assert.Null(limiter.RetryAfter("b"));
        clock.Advance(TimeSpan.FromSeconds(6));
        Assert.Null(limiter.RetryAfter("a"));
        limiter.Failed("a");
        Assert.Null(limiter.RetryAfter("a"));
    }

    [Fact]
    public void FailedKeyLimiter_WithMaxFailures0_NeverThrottles()
    {
        var limiter = new FailedKeyLimiter(Options.Create(new AuthOptions { MaxFailures = 0 }), NullLogger<FailedKeyLimiter>.Instance);

        for (int i = 0; i < 100; i++) limiter.Failed("a");

        Assert.Null(limiter.RetryAfter("a"));
    }

    /// <summary>A POST /predict from <paramref name="ip"/> (the in-memory server has no remote address of its own).</summary>
    private static Task<HttpContext> PredictFrom(ApiFactory api, string ip, string apiKey) => api.Server.SendAsync(context =>
    {
        context.Connection.RemoteIpAddress = IPAddress.Parse(ip);
        context.Request.Method = HttpMethods.Post;
        context.Request.Path = "/predict";
        context.Request.Headers["X-Api-Key"] = apiKey;
        context.Request.ContentType = "application/json";
        context.Request.Body = new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(new { board = Glider.ToRows() }));
    });

    /// <summary>A clock that moves only when told.</summary>
    private sealed class ManualClock : TimeProvider
    {
        private long _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => Interlocked.Read(ref _ticks);

        public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
    }

    [Fact]
    public async Task WithoutApiKeys_TheApiIsOpen()
    {
        await using var api = new ApiFactory();

        Assert.Equal(HttpStatusCode.OK, (await api.CreateClient().SendAsync(Predict(apiKey: "anything-at-all"))).StatusCode);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public async Task HealthIsAlwaysOpen_DocsAndMetricsNeedAKeyOnlyWhenProtected(bool protectDocs, bool protectMetrics)
    {
        await using var api = WithKeys(("Auth:ProtectDocs", $"{protectDocs}"), ("Auth:ProtectMetrics", $"{protectMetrics}"));
        var client = api.CreateClient();
        var docs = protectDocs ? HttpStatusCode.Unauthorized : HttpStatusCode.OK;
        var metrics = protectMetrics ? HttpStatusCode.Unauthorized : HttpStatusCode.OK;

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz/live")).StatusCode);
        Assert.NotEqual(HttpStatusCode.Unauthorized, (await client.GetAsync("/healthz/ready")).StatusCode);
        Assert.Equal(docs, (await client.GetAsync("/openapi/v1.json")).StatusCode);
        Assert.Equal(docs, (await client.GetAsync("/swagger/index.html")).StatusCode);
        Assert.Equal(metrics, (await client.GetAsync("/metrics")).StatusCode);

        client.DefaultRequestHeaders.Add("X-Api-Key", KeyB);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/openapi/v1.json")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/swagger/index.html")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/metrics")).StatusCode);
    }

    [Fact]
    public async Task RateLimit_IsPerClient_429WithRetryAfterPastTheBurst_WhileAnotherKeyKeepsItsOwnBucket()
    {
        await using var api = WithKeys(("RateLimit:PermitsPerSecond", "1"), ("RateLimit:Burst", "2"));
        var client = api.CreateClient();

        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < 3; i++) statuses.Add((await client.SendAsync(Predict(KeyA))).StatusCode);
        var limited = await client.SendAsync(Predict(KeyA));
        var other = await client.SendAsync(Predict(KeyB));

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], statuses);
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.NotNull(limited.Headers.RetryAfter?.Delta);
        Assert.Equal("application/problem+json", limited.Content.Headers.ContentType?.MediaType);
        Assert.Contains("limit is 1 boards per second, bursts of 2", (string)(await BodyOf(limited))["detail"]!);
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
    }

    [Fact]
    public async Task RateLimit_DoesNotCountHealthChecks()
    {
        await using var api = new ApiFactory { Settings = { ["RateLimit:PermitsPerSecond"] = "1", ["RateLimit:Burst"] = "1" } };
        var client = api.CreateClient();

        for (int i = 0; i < 5; i++) Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz/live")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Predict(null))).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.SendAsync(Predict(null))).StatusCode);
    }
}
