using Conway.Decoding;
using Microsoft.Extensions.Options;

namespace Conway.Api.Serving;

public static class ServingExtensions
{
    /// <summary>The tag of the checks that <c>/healthz/ready</c> runs.</summary>
    public const string ReadyTag = "ready";

    /// <summary>
    /// The model host and its options (section "Model"), the resilience pipeline around the predictor, the
    /// <see cref="PredictionService"/> and <see cref="RolloutService"/> that the endpoints call, the readiness check, the host's
    /// shutdown timeout (<see cref="ModelOptions.ShutdownTimeout"/>: delay + drain + margin) and the
    /// <see cref="PredictorFactory"/>.
    /// </summary>
    public static IServiceCollection AddModelServing(this IServiceCollection services)
    {
        services.AddOptions<ModelOptions>().BindConfiguration(ModelOptions.Section)
            .PostConfigure(model => model.ApplyDeviceDefaults(cpuOnly: DeviceList.Resolve(model.Devices, DeviceList.VisibleGpus).All(device => device == "cpu")))
            .ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<HostOptions>().Configure<IOptions<ModelOptions>>(
            (host, model) => host.ShutdownTimeout = model.Value.ShutdownTimeout);

        services.AddSingleton<PredictorFactory>(_ => LoadLifeGpt);

        services.AddSingleton<PredictorResilience>();
        services.AddSingleton<ThroughputEstimate>();
        services.AddSingleton<ModelHost>();
        services.AddHostedService(sp => sp.GetRequiredService<ModelHost>());
        services.AddHostedService<ModelFileWatcher>();
        services.AddSingleton<PredictionService>();
        services.AddSingleton<RolloutService>();
        services.AddHealthChecks().AddCheck<ModelHealthCheck>("model", tags: [ReadyTag]);
        return services;
    }

    /// <summary>The real model: the checkpoint at <paramref name="path"/> loaded onto <paramref name="device"/>.</summary>
    public static IBoardPredictor LoadLifeGpt(ModelOptions options, string path, string device) =>
        LifeGptPredictor.Load(path, device, options.BoardsPerPass, options.Precision, options.Kernels);
}
