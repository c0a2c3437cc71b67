using System.Net;
using Microsoft.AspNetCore.Hosting;

namespace Conway.Api.Tests;

/// <summary>The page at / (Conway.Api/wwwroot); Conway.Web.Tests drives it in a real browser.</summary>
public sealed class WebPageTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Root_ServesThePage_WithItsModulesAndStyles()
    {
        var client = api.CreateClient();

        var page = await client.GetAsync("/");

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        string html = await page.Content.ReadAsStringAsync();
        Assert.Contains("""<script type="module" src="app.js"></script>""", html);
        Assert.Contains("""<link rel="stylesheet" href="app.css">""", html);
        foreach (var (path, type) in new[] { ("/app.js", "text/javascript"), ("/board.js", "text/javascript"), ("/app.css", "text/css") })
        {
            var file = await client.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, file.StatusCode);
            Assert.Equal(type, file.Content.Headers.ContentType?.MediaType);
        }
    }

    [Fact]
    public void ThePage_IsUnder48KilobytesInAll_AndLoadsNothingFromElsewhere()
    {
        var files = api.Services.GetRequiredService<IWebHostEnvironment>().WebRootFileProvider.GetDirectoryContents("/").ToList();

        Assert.Equal(["app.css", "app.js", "board.js", "index.html"], files.Select(file => file.Name).Order());
        Assert.InRange(files.Sum(file => file.Length), 1, 48 * 1024);   // 43.5 KB with the rollout streams and the two-model view
        foreach (var file in files)
        {
            using var reader = new StreamReader(file.CreateReadStream());
            Assert.DoesNotContain("://", reader.ReadToEnd()); // no address of another site: no fonts, scripts or styles from a CDN
        }
    }
}
