using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Conway.Api.Tests;

/// <summary>The built service, started as its own process from a folder that is not its own: it still reads its appsettings.json.</summary>
public sealed partial class ContentRootTests
{
    private static readonly string ApiAssembly = typeof(ContentRootTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(attribute => attribute.Key == "ApiAssembly").Value!;

    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task StartedFromAnotherFolder_TheServiceLogsJsonLines_SoAUrlCannotForgeALine()
    {
        var folder = Directory.CreateTempSubdirectory("conway-elsewhere-");
        var output = new ConcurrentQueue<string>();
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { ApiAssembly, "--urls", "http://127.0.0.1:0" },
            WorkingDirectory = folder.FullName,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment.Remove("ASPNETCORE_CONTENTROOT");
        start.Environment.Remove("DOTNET_CONTENTROOT");
        start.Environment["Model__SelfTestPatterns"] = "glider";
        start.Environment["Logging__LogLevel__Microsoft.AspNetCore"] = "Information"; // every request logged, its URL with it
        using var service = new Process { StartInfo = start };
        service.OutputDataReceived += (_, e) => { if (e.Data is not null) output.Enqueue(e.Data); };
        service.ErrorDataReceived += (_, e) => { if (e.Data is not null) output.Enqueue("stderr: " + e.Data); };
        service.Start();
        service.BeginOutputReadLine();
        service.BeginErrorReadLine();
        string[] lines;
        try
        {
            await Given.Eventually(() => output.Any(line => ListeningOn().IsMatch(line)), "the service listens", (int)Bound.TotalSeconds);
            var url = new Uri(ListeningOn().Match(output.First(line => ListeningOn().IsMatch(line))).Groups[1].Value);
            using var http = new HttpClient { BaseAddress = url, Timeout = Bound };

            var forging = await http.GetAsync("/nope%0D%0AFORGED%20admin%20logged%20in%0D%0A");

            Assert.Equal(HttpStatusCode.NotFound, forging.StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz/live")).StatusCode);
            await Given.Eventually(() => output.Any(line => line.Contains("Request finished") && line.Contains("/healthz/live")),
                "both requests are logged", (int)Bound.TotalSeconds);
            lines = [.. output];
        }
        finally
        {
            service.Kill(entireProcessTree: true);
            await service.WaitForExitAsync().WaitAsync(Bound);
            folder.Delete(recursive: true);
        }

        Assert.All(lines.Where(line => !line.StartsWith("stderr: ", StringComparison.Ordinal)), line =>
        {
            using var entry = JsonDocument.Parse(line);
            Assert.True(entry.RootElement.TryGetProperty("LogLevel", out _), $"not a JSON log entry: {line}");
        });
        Assert.DoesNotContain(lines, line => line.Replace("stderr: ", "").TrimStart().StartsWith("FORGED", StringComparison.Ordinal));
        Assert.Contains(lines, line => line.Contains("Request finished") && line.Contains("FORGED"));
    }

    [GeneratedRegex(@"Now listening on: (http://127\.0\.0\.1:\d+)")]
    private static partial Regex ListeningOn();
}
