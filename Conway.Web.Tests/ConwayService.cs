using Conway.Api.Tests;

namespace Conway.Web.Tests;

/// <summary>
/// The real service for the browser tests (<see cref="ServiceProcess"/>: its built dll on Kestrel at a free loopback
/// port, with the shipped model), ready once /healthz/ready answers 200, and killed at the end.
/// </summary>
public sealed class ConwayService : IAsyncLifetime
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(2);
    private ServiceProcess? _service;

    public Uri BaseUrl => _service!.BaseUrl;

    /// <summary>The last lines the service printed.</summary>
    public string Output => _service?.Output ?? "";

    public async Task InitializeAsync()
    {
        if (Browser.Missing is not null) return; // every test is skipped: no service needed
        _service = await ServiceProcess.StartAsync(new Dictionary<string, string>(), StartTimeout);
        await _service.WaitUntilReadyAsync(StartTimeout);
    }

    public async Task DisposeAsync()
    {
        if (_service is not null) await _service.DisposeAsync();
    }
}
