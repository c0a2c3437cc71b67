using Conway.Api.Tests;
using Conway.Testing;

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

    /// <summary>Why the tests on this service are skipped (then it is not started), or null.</summary>
    protected virtual string? Missing => Browser.Missing;

    public Uri BaseUrl => _service!.BaseUrl;

    /// <summary>The last lines the service printed.</summary>
    public string Output => _service?.Output ?? "";

    public async Task InitializeAsync()
    {
        if (Missing is not null) return; // every test is skipped: no service needed
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

/// <summary>
/// The real service with two models: <c>ours</c>, the shipped model (the default), and <c>reference</c>, the paper's
/// undertrained checkpoint from the shared data folder (no self-test: it is not exact). The shipped model's warm-up
/// self-test steps the glider only, as <see cref="ConwayServiceWithApiKey"/>'s does.
/// </summary>
public sealed class ConwayServiceWithTwoModels() : ConwayService(new Dictionary<string, string>
{
    ["Model__Models__ours__Path"] = Path.Combine(Path.GetDirectoryName(ServiceProcess.ApiAssembly)!, "models", "lifegpt.safetensors"),
    ["Model__Models__ours__Default"] = "true",
    ["Model__Models__reference__Path"] = SharedData.Root is null ? "" : SharedData.Path("data", "conformance", "lifegpt-xt1.27.21-undertrained.pt"),
    ["Model__Models__reference__SelfTestPatterns"] = "none",
    ["Model__SelfTestPatterns"] = "glider",
})
{
    protected override string? Missing => Browser.Missing ?? (SharedData.Root is null ? SharedData.SkipReason : null);
}
