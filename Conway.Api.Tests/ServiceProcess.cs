using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace Conway.Api.Tests;

/// <summary>
/// The real service as a process of its own: <c>dotnet Conway.Api.dll</c> on Kestrel at a free loopback port (Kestrel
/// picks it: port 0, read back from its "Now listening on" line), configured through environment variables. It keeps
/// what the service printed, can send it a signal (SIGTERM, as Kubernetes and docker do), and is killed with its
/// process tree when disposed if it still runs. Every wait is bounded; a failure says why, with the service's output.
/// Compiled into Conway.Api.Tests and, linked, into Conway.Web.Tests.
/// </summary>
public sealed partial class ServiceProcess : IAsyncDisposable
{
    public const int Sigterm = 15;

    private readonly ConcurrentQueue<string> _output = new();
    private readonly List<(Func<string, bool> Matches, TaskCompletionSource<string> Seen)> _awaitedLines = [];
    private readonly Process _process;

    private ServiceProcess(Process process) => _process = process;

    /// <summary>
    /// Conway.Api.dll as built with the same configuration as the tests (the test assembly's <c>ApiAssembly</c>
    /// metadata), or the build that the environment variable <c>CONWAY_API_ASSEMBLY</c> names (e.g. an older one, to compare).
    /// </summary>
    public static string ApiAssembly { get; } =
        Environment.GetEnvironmentVariable("CONWAY_API_ASSEMBLY") is { Length: > 0 } path ? path
        : typeof(ServiceProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "ApiAssembly").Value!;

    public Uri BaseUrl { get; private set; } = null!;

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>The exit status once it has exited; 128 + the signal's number when a signal ended it (139: SIGSEGV).</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>The last lines the service printed.</summary>
    public string Output => string.Join('\n', _output.TakeLast(60));

    /// <summary>Every line the service printed so far (its last 2000).</summary>
    public IReadOnlyList<string> Lines => [.. _output];

    /// <summary>
    /// Starts the service with <paramref name="settings"/> (configuration keys such as <c>Model:DrainSeconds</c>, passed
    /// as environment variables) and returns once it listens; it may still be loading its model. It runs in the
    /// binaries' folder unless <paramref name="workingDirectory"/> is given.
    /// </summary>
    public static async Task<ServiceProcess> StartAsync(IReadOnlyDictionary<string, string> settings, TimeSpan timeout, string? workingDirectory = null)
    {
        if (!File.Exists(ApiAssembly))
            throw new FileNotFoundException($"Conway.Api is not built at {ApiAssembly}.", ApiAssembly);
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { ApiAssembly, "--urls", "http://127.0.0.1:0" },
            WorkingDirectory = workingDirectory ?? Path.GetDirectoryName(ApiAssembly),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment.Remove("ASPNETCORE_CONTENTROOT");                                  // the service's own, as users run it
        start.Environment.Remove("DOTNET_CONTENTROOT");
        start.Environment["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information"; // "Now listening on: ..."
        foreach (var (key, value) in settings) start.Environment[key.Replace(":", "__")] = value;

        var service = new ServiceProcess(new Process { StartInfo = start, EnableRaisingEvents = true });
        var listening = service.WaitForLineAsync(line => ListeningOn().IsMatch(line));
        service._process.OutputDataReceived += (_, e) => service.Record(e.Data);
        service._process.ErrorDataReceived += (_, e) => service.Record(e.Data);
        service._process.Exited += (_, _) => service.FailWaitersOnExit();
        service._process.Start();
        service._process.BeginOutputReadLine();
        service._process.BeginErrorReadLine();
        try
        {
            service.BaseUrl = new Uri(ListeningOn().Match(await listening.WaitAsync(timeout)).Groups[1].Value);
            return service;
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
            string output = service.Output;
            await service.DisposeAsync();
            throw new InvalidOperationException($"The service did not start listening: {e.Message} It printed:\n{output}", e);
        }
    }

    /// <summary>Waits until <c>/healthz/ready</c> answers 200: the model is loaded and passed its self-test.</summary>
    public async Task WaitUntilReadyAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        while (!await IsReadyAsync(http))
        {
            if (_process.HasExited) throw new InvalidOperationException($"The service exited before it was ready. It printed:\n{Output}");
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"The service was not ready within {timeout.TotalSeconds} s. It printed:\n{Output}");
            await Task.Delay(250);
        }
    }

    /// <summary>The first line, printed before or after this call, that contains <paramref name="text"/>.</summary>
    public Task<string> WaitForOutputAsync(string text, TimeSpan timeout) =>
        WaitForLineAsync(line => line.Contains(text, StringComparison.Ordinal)).WaitAsync(timeout);

    /// <summary>Sends <paramref name="signal"/> (e.g. <see cref="Sigterm"/>) to the process, as kill(2) does.</summary>
    public void Signal(int signal)
    {
        if (Kill(_process.Id, signal) != 0)
            throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}.");
    }

    /// <summary>Waits for the process to exit and returns its <see cref="ExitCode"/>.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancellation = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cancellation.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"The service did not exit within {timeout.TotalSeconds} s. It printed:\n{Output}");
        }
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await _process.WaitForExitAsync(timeout.Token);
        _process.Dispose();
    }

    private async Task<bool> IsReadyAsync(HttpClient http)
    {
        try
        {
            using var response = await http.GetAsync(new Uri(BaseUrl, "/healthz/ready"));
            return response.IsSuccessStatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }

    private Task<string> WaitForLineAsync(Func<string, bool> matches)
    {
        var seen = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_awaitedLines)
        {
            if (_output.FirstOrDefault(matches) is { } line) seen.SetResult(line);
            else _awaitedLines.Add((matches, seen));
        }
        return seen.Task;
    }

    private void Record(string? line)
    {
        if (line is null) return;
        lock (_awaitedLines)
        {
            _output.Enqueue(line);
            while (_output.Count > 2000) _output.TryDequeue(out _);
            foreach (var awaited in _awaitedLines.Where(awaited => awaited.Matches(line)).ToList())
            {
                awaited.Seen.TrySetResult(line);
                _awaitedLines.Remove(awaited);
            }
        }
    }

    private void FailWaitersOnExit()
    {
        // the output may still be arriving: wait for its end before telling the waiters the line never came
        _process.WaitForExit();
        lock (_awaitedLines)
        {
            foreach (var awaited in _awaitedLines)
                awaited.Seen.TrySetException(new InvalidOperationException($"The service exited (status {_process.ExitCode})."));
            _awaitedLines.Clear();
        }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    [GeneratedRegex(@"Now listening on: (http://127\.0\.0\.1:\d+)")]
    private static partial Regex ListeningOn();
}
