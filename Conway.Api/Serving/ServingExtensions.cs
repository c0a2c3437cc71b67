using Conway.Decoding;

namespace Conway.Api.Serving;

public static class ServingExtensions
{
    /// <summary>The tag of the checks that <c>/healthz/ready</c> runs.</summary>
    public const string ReadyTag = "ready";

    /// <summary>
    /// The model worker, its options (section "Model"), the readiness check, and the <see cref="PredictorFactory"/>.
    /// </summary>
    public static IServiceCollection AddModelServing(this IServiceCollection services)
    {
        services.AddOptions<ModelOptions>().BindConfiguration(ModelOptions.Section).ValidateDataAnnotations().ValidateOnStart();

        services.AddSingleton<PredictorFactory>(_ => options => LifeGptPredictor.Load(options.Path, options.Device));

        services.AddSingleton<ModelWorker>();
        services.AddHostedService(sp => sp.GetRequiredService<ModelWorker>());
        services.AddHealthChecks().AddCheck<ModelHealthCheck>("model", tags: [ReadyTag]);
        return services;
    }
}
