using System.Net;
using System.Text.Json;

namespace Conway.Api.Tests;

/// <summary>The built service, started as its own process from a folder that is not its own: it still reads its appsettings.json.</summary>
public sealed class ContentRootTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task StartedFromAnotherFolder_TheServiceLogsJsonLines_SoAUrlCannotForgeALine()
    {
        var folder = Directory.CreateTempSubdirectory("conway-elsewhere-");
        string[] lines;
        try
        {
            await using (var service = await ServiceProcess.StartAsync(new Dictionary<string, string>
            {
                ["Model:SelfTestPatterns"] = "glider",
                ["Logging:LogLevel:Microsoft.AspNetCore"] = "Information", // every request logged, its URL with it
            }, Bound, workingDirectory: folder.FullName))
            {
                using var http = new HttpClient { BaseAddress = service.BaseUrl, Timeout = Bound };

                var forging = await http.GetAsync("/nope%0D%0AFORGED%20admin%20logged%20in%0D%0A");

                Assert.Equal(HttpStatusCode.NotFound, forging.StatusCode);
                Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz/live")).StatusCode);
                await Given.Eventually(() => service.Lines.Any(line => line.Contains("Request finished") && line.Contains("/healthz/live")),
                    "both requests are logged", (int)Bound.TotalSeconds);
                lines = [.. service.Lines];
            }
        }
        finally
        {
            folder.Delete(recursive: true);
        }

        Assert.All(lines, line =>
        {
            using var entry = JsonDocument.Parse(line);
            Assert.True(entry.RootElement.TryGetProperty("LogLevel", out _), $"not a JSON log entry: {line}");
        });
        Assert.DoesNotContain(lines, line => line.TrimStart().StartsWith("FORGED", StringComparison.Ordinal));
        Assert.Contains(lines, line => line.Contains("Request finished") && line.Contains("FORGED"));
    }
}
