using System.Net;
using Conway.Api.Serving;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;

namespace Conway.Api.Tests;

/// <summary>
/// The service over its real HTTP pipeline: in memory by default, or on a real Kestrel socket on 127.0.0.1 after
/// <see cref="OnLoopback"/>. <see cref="LoadModel"/> is the one place that decides which model the tests talk to: by
/// default the <see cref="RulePredictor"/> test double in <see cref="Predictor"/> on one CPU worker; end-to-end tests
/// against a real checkpoint set it (and Model:Path) instead.
/// </summary>
public sealed class ApiFactory : WebApplicationFactory<Program>
{
    public RulePredictor Predictor { get; init; } = new();

    public PredictorFactory? LoadModel { get; init; }

    /// <summary>
    /// Configuration on top of the test defaults (small limits, so they are cheap to hit; no per-client rate limit; no
    /// shutdown delay).
    /// </summary>
    public Dictionary<string, string?> Settings { get; init; } = [];

    public CapturedLogs Logs { get; } = new();

    public ModelHost ModelHost => Services.GetRequiredService<ModelHost>();

    /// <summary>Serve on a real Kestrel socket on 127.0.0.1 (an ephemeral port) instead of the in-memory test server.</summary>
    public ApiFactory OnLoopback()
    {
        UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        StartServer();
        return this;
    }

    /// <summary>
    /// A client of its own (not disposed with the factory, unlike <see cref="WebApplicationFactory{T}.CreateClient()"/>'s)
    /// for the Kestrel server of <see cref="OnLoopback"/>, with no limit on connections, that waits longer than the
    /// deadlines the tests allow (the CPU default is 2 minutes, the longest a test sets 10): every request it sends is
    /// answered by the service.
    /// </summary>
    public HttpClient CreateLoopbackClient() =>
        new(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue }) { BaseAddress = CreateClient().BaseAddress, Timeout = TimeSpan.FromMinutes(15) };

    /// <summary>
    /// A client once every device is ready (on the default model) and done loading the others, with the self-tests' calls
    /// forgotten, so tests see only their own.
    /// </summary>
    public async Task<HttpClient> StartAsync(int seconds = 10)
    {
        var client = CreateClient();
        await Given.Eventually(() => ModelHost.Devices is { Count: > 0 } devices && devices.All(device => device.State == ModelState.Ready)
            && devices.All(device => device.Models.All(model => model.State != ModelState.Loading)), "every device is ready, every model loaded or failed", seconds);
        Predictor.Calls.Clear();
        return client;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("Model:Path", Predictor.Info.Path);
        builder.UseSetting("Model:Devices", "cpu");
        builder.UseSetting("Model:MaxBoardsPerRequest", "8");
        builder.UseSetting("Api:MaxRequestBodyBytes", "65536");
        builder.UseSetting("RateLimit:PermitsPerSecond", "0");
        builder.UseSetting("Model:ShutdownDelaySeconds", "0"); // no test waits for load balancers when it disposes its host
        builder.UseSetting("Model:WatchFiles", "false");       // the reload tests turn it on: each watcher is an inotify instance
        if (LoadModel is null)
        {
            // the double is instant: whole requests in one batch, as the tests of batching and faults expect (the real
            // model keeps the CPU's defaults, one 4-board pass a batch, unless a test says otherwise)
            builder.UseSetting("Model:MaxBatchBoards", "64");
            builder.UseSetting("Model:SliceBoards", "64");
        }
        foreach (var (key, value) in Settings) builder.UseSetting(key, value);
        builder.ConfigureLogging(logging => logging.ClearProviders().AddProvider(Logs));
        PredictorFactory load = LoadModel ?? ((_, _, _) => Predictor);
        builder.ConfigureTestServices(services => services.AddSingleton(load));
    }
}
