using System.Net;
using System.Text.RegularExpressions;
using static Conway.Api.Tests.Given;

namespace Conway.Api.Tests;

/// <summary>The browser hardening headers: a Content-Security-Policy, nosniff, no referrer and no framing, on every answer.</summary>
public sealed partial class SecurityHeadersTests
{
    private static ApiFactory WithApiKey() => new() { Settings = { ["Auth:ApiKeys:0"] = "key-a-0123456789abcdef" } };

    /// <summary>The directives of a Content-Security-Policy: name to its sources.</summary>
    private static Dictionary<string, string> Directives(HttpResponseMessage response) =>
        string.Join(' ', response.Headers.GetValues("Content-Security-Policy")).Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(directive => directive.Split(' ', 2))
            .ToDictionary(parts => parts[0], parts => parts.ElementAtOrDefault(1) ?? "");

    private static void AssertNoSniffingReferrerOrFraming(HttpResponseMessage response)
    {
        Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
        Assert.Equal("no-referrer", Assert.Single(response.Headers.GetValues("Referrer-Policy")));
        Assert.Equal("DENY", Assert.Single(response.Headers.GetValues("X-Frame-Options")));
    }

    [Theory]
    [InlineData("GET", "/", HttpStatusCode.OK, "text/html")]
    [InlineData("GET", "/app.js", HttpStatusCode.OK, "text/javascript")]
    [InlineData("GET", "/patterns", HttpStatusCode.OK, "application/json")]
    [InlineData("GET", "/healthz/live", HttpStatusCode.OK, "application/json")]
    [InlineData("POST", "/predict", HttpStatusCode.Unauthorized, "application/problem+json")]
    [InlineData("GET", "/nothing-here", HttpStatusCode.NotFound, "application/problem+json")]
    public async Task ThePageAndEveryApiAnswer_CarryTheSelfOnlyPolicy_NoSniffNoReferrerAndNoFraming(
        string method, string path, HttpStatusCode status, string mediaType)
    {
        await using var api = WithApiKey();

        var response = await api.CreateClient().SendAsync(new HttpRequestMessage(new HttpMethod(method), path)
        {
            Content = method == "POST" ? Json(new { board = Glider.ToRows() }) : null,
        });

        Assert.Equal(status, response.StatusCode);
        Assert.Equal(mediaType, response.Content.Headers.ContentType?.MediaType);
        var policy = Directives(response);
        Assert.Equal("'self'", policy["default-src"]);
        Assert.Equal("'self'", policy["script-src"]);
        Assert.Equal("'self'", policy["style-src"]);
        Assert.Equal("'self'", policy["connect-src"]);
        Assert.Equal("'none'", policy["object-src"]);
        Assert.Equal("'none'", policy["frame-ancestors"]);
        AssertNoSniffingReferrerOrFraming(response);
    }

    [Fact]
    public async Task SwaggerUi_StillLoads_UnderAPolicyWithItsInlineStylesButNoInlineScript()
    {
        await using var api = new ApiFactory();
        var client = api.CreateClient();

        var page = await client.GetAsync("/swagger/index.html");

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        string html = await page.Content.ReadAsStringAsync();
        Assert.Contains("""<div id="swagger-ui"></div>""", html);
        Assert.Empty(InlineScript().Matches(html)); // every script is a file: script-src 'self' is enough
        var policy = Directives(page);
        Assert.Equal("'self'", policy["script-src"]);
        Assert.Equal("'self' 'unsafe-inline'", policy["style-src"]); // swagger-ui-bundle.js injects a <style> element
        Assert.Equal("'none'", policy["frame-ancestors"]);
        AssertNoSniffingReferrerOrFraming(page);
        foreach (string file in new[] { "/swagger/index.js", "/swagger/swagger-ui-bundle.js", "/swagger/swagger-ui.css" })
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(file)).StatusCode);
    }

    /// <summary>A script element without a src attribute.</summary>
    [GeneratedRegex(@"<script(?![^>]*\bsrc=)[^>]*>", RegexOptions.IgnoreCase)]
    private static partial Regex InlineScript();
}
