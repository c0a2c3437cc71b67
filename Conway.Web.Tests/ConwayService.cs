using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Conway.Web.Tests;

/// <summary>
/// The real service, started from its built dll on Kestrel at a free loopback port (Kestrel picks it: port 0), with
/// the shipped model and its default settings plus <see cref="Settings"/>; ready once /healthz/ready answers 200.
/// Killed, with its process tree, at the end. Every wait is bounded; a failure to start says why, with the service's
/// own output.
/// </summary>
public partial class ConwayService : IAsyncLifetime
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(2);
    private readonly ConcurrentQueue<string> _output = new();
    private Process? _process;

    public ConwayService() : this(new Dictionary<string, string>()) { }

    /// <summary>One public constructor for xunit's fixtures: settings come from a derived fixture.</summary>
    protected ConwayService(IReadOnlyDictionary<string, string> settings) => Settings = settings;

    /// <summary>Configuration the service starts with, as environment variables (e.g. <c>Auth__ApiKeys__0</c>).</summary>
    public IReadOnlyDictionary<string, string> Settings { get; }

    public Uri BaseUrl { get; private set; } = null!;

    /// <summary>The last lines the service printed.</summary>
    public string Output => string.Join('\n', _output.TakeLast(60));

    public async Task InitializeAsync()
    {
        if (Browser.Missing is not null) return; // every test is skipped: no service needed
        if (!File.Exists(Browser.ApiAssembly))
            throw new FileNotFoundException($"Conway.Api is not built at {Browser.ApiAssembly}.", Browser.ApiAssembly);

        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { Browser.ApiAssembly, "--urls", "http://127.0.0.1:0" },
            WorkingDirectory = Path.GetDirectoryName(Browser.ApiAssembly),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information"; // "Now listening on: ..."
        foreach (var (name, value) in Settings) start.Environment[name] = value;
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        _process = new Process { StartInfo = start, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => Record(e.Data, listening);
        _process.ErrorDataReceived += (_, e) => Record(e.Data, listening);
        _process.Exited += (_, _) => listening.TrySetException(new InvalidOperationException("The service exited while starting."));
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        var deadline = DateTime.UtcNow + StartTimeout;
        try
        {
            BaseUrl = await listening.Task.WaitAsync(StartTimeout);
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            while (!await IsReadyAsync(http))
            {
                if (_process.HasExited) throw new InvalidOperationException("The service exited before it was ready.");
                if (DateTime.UtcNow > deadline) throw new TimeoutException($"The model was not ready within {StartTimeout.TotalSeconds} s.");
                await Task.Delay(250);
            }
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
            throw new InvalidOperationException($"{e.Message} The service printed:\n{Output}", e);
        }
    }

    public async Task DisposeAsync()
    {
        if (_process is null) return;
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await _process.WaitForExitAsync(timeout.Token);
        _process.Dispose();
    }

    private async Task<bool> IsReadyAsync(HttpClient http)
    {
        try
        {
            return (await http.GetAsync(new Uri(BaseUrl, "/healthz/ready"))).IsSuccessStatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }

    private void Record(string? line, TaskCompletionSource<Uri> listening)
    {
        if (line is null) return;
        _output.Enqueue(line);
        while (_output.Count > 500) _output.TryDequeue(out _);
        if (ListeningOn().Match(line) is { Success: true } match) listening.TrySetResult(new Uri(match.Groups[1].Value));
    }

    [GeneratedRegex(@"Now listening on: (http://127\.0\.0\.1:\d+)")]
    private static partial Regex ListeningOn();
}

/// <summary>
/// The real service with one API key in Auth:ApiKeys: its prediction endpoints answer 401 without it. Its warm-up
/// self-test steps the glider only (the full one is <see cref="ConwayService"/>'s), so that this second service is
/// ready in seconds rather than a minute or more on a busy 2-core machine.
/// </summary>
public sealed class ConwayServiceWithApiKey() : ConwayService(new Dictionary<string, string>
{
    ["Auth__ApiKeys__0"] = ApiKey,
    ["Model__SelfTestPatterns"] = "glider",
})
{
    public const string ApiKey = "web-tests-key-0123456789abcdef";
}
