using System.Net;
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
        Assert.Contains("limit is 1 per second, bursts of 2", (string)(await BodyOf(limited))["detail"]!);
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
