using System.Diagnostics;

namespace Conway.Web.Tests;

/// <summary>
/// Runs one scenario of e2e.mjs (playwright-core in headless Chromium) against a running <see cref="ConwayService"/>;
/// passes when the script exits 0, else fails with what it printed and the service's last lines.
/// </summary>
internal static class E2eScript
{
    private static readonly TimeSpan ScenarioTimeout = TimeSpan.FromMinutes(4);

    /// <param name="apiKey">The key the service was started with, for the scenarios that need one (CONWAY_API_KEY).</param>
    public static async Task RunAsync(ConwayService service, ITestOutputHelper output, string scenario, string? apiKey = null)
    {
        var start = new ProcessStartInfo("node")
        {
            ArgumentList = { "e2e.mjs", service.BaseUrl.ToString(), Browser.Screenshots, scenario },
            WorkingDirectory = Browser.WebTestsDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["CHROMIUM_PATH"] = Browser.Chromium;
        if (apiKey is not null) start.Environment["CONWAY_API_KEY"] = apiKey;
        using var node = Process.Start(start)!;
        var stdout = node.StandardOutput.ReadToEndAsync();
        var stderr = node.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(ScenarioTimeout);
        bool finished = true;
        try
        {
            await node.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            finished = false;
            node.Kill(entireProcessTree: true);
            await node.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(15));
        }
        string printed = $"{await stdout}{await stderr}".TrimEnd();
        output.WriteLine(printed);

        string failure = finished ? $"exited with {node.ExitCode}" : $"did not finish within {ScenarioTimeout.TotalMinutes} minutes";
        Assert.True(finished && node.ExitCode == 0,
            $"e2e.mjs '{scenario}' {failure}:\n{printed}\n--- the service's last lines ---\n{service.Output}");
    }
}
