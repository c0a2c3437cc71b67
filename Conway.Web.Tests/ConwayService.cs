using Conway.Api.Tests;

namespace Conway.Web.Tests;

/// <summary>
/// The real service for the browser tests (<see cref="ServiceProcess"/>: its built dll on Kestrel at a free loopback
/// port, with the shipped model and its default settings plus <see cref="Settings"/>), ready once /healthz/ready
/// answers 200, and killed at the end.
/// </summary>
public class ConwayService : IAsyncLifetime
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(2);
    private ServiceProcess? _service;

    public ConwayService() : this(new Dictionary<string, string>()) { }

    /// <summary>One public constructor for xunit's fixtures: settings come from a derived fixture.</summary>
    protected ConwayService(IReadOnlyDictionary<string, string> settings) => Settings = settings;

    /// <summary>Configuration the service starts with, as environment variables (e.g. <c>Auth__ApiKeys__0</c>).</summary>
    public IReadOnlyDictionary<string, string> Settings { get; }

    public Uri BaseUrl => _service!.BaseUrl;

    /// <summary>The last lines the service printed.</summary>
    public string Output => _service?.Output ?? "";

    public async Task InitializeAsync()
    {
        if (Browser.Missing is not null) return; // every test is skipped: no service needed
        _service = await ServiceProcess.StartAsync(new Dictionary<string, string>(Settings), StartTimeout);
        await _service.WaitUntilReadyAsync(StartTimeout);
    }

    public async Task DisposeAsync()
    {
        if (_service is not null) await _service.DisposeAsync();
    }
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
