using Conway.Api.Serving;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;

namespace Conway.Api.Tests;

/// <summary>
/// The service over its real HTTP pipeline (in memory). <see cref="LoadModel"/> is the one place that decides which
/// model the tests talk to: by default the <see cref="RulePredictor"/> test double in <see cref="Predictor"/>; end-to-end
/// tests against a real checkpoint set it (and Model:Path) instead.
/// </summary>
public sealed class ApiFactory : WebApplicationFactory<Program>
{
    public RulePredictor Predictor { get; init; } = new();

    public PredictorFactory? LoadModel { get; init; }

    /// <summary>Configuration on top of the test defaults (a small body limit and batch size, so limits are cheap to hit).</summary>
    public Dictionary<string, string?> Settings { get; init; } = [];

    public CapturedLogs Logs { get; } = new();

    public ModelWorker Worker => Services.GetRequiredService<ModelWorker>();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("Model:Path", Predictor.Info.Path);
        builder.UseSetting("Model:MaxBoardsPerRequest", "8");
        builder.UseSetting("Api:MaxRequestBodyBytes", "65536");
        foreach (var (key, value) in Settings) builder.UseSetting(key, value);
        builder.ConfigureLogging(logging => logging.AddProvider(Logs));
        PredictorFactory load = LoadModel ?? (_ => Predictor);
        builder.ConfigureTestServices(services => services.AddSingleton(load));
    }
}
