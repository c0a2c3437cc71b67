namespace Conway.Api.Serving;

/// <summary>
/// This instance cannot predict: its model failed to load or its self-test, or it is shutting down. <see cref="RetryAfter"/>
/// is set when retrying (elsewhere) soon makes sense.
/// </summary>
public sealed class ModelUnavailableException(string message, TimeSpan? retryAfter = null) : Exception(message)
{
    public TimeSpan? RetryAfter { get; } = retryAfter;

    public static ModelUnavailableException Failed() =>
        new("The model failed to load or its self-test, so this instance cannot predict; see /healthz/ready and the service log.");

    public static ModelUnavailableException Failed(string model) =>
        new($"Model {model} failed to load or its self-test, so this instance cannot predict with it; see /models, /healthz/ready and the service log.");

    public static ModelUnavailableException Loading() =>
        new("The model is still loading and warming up on this instance; retry in a few seconds (see /healthz/ready).", TimeSpan.FromSeconds(5));

    public static ModelUnavailableException ShuttingDown() =>
        new("This instance is shutting down and takes no new work; retry, and another instance will answer.", TimeSpan.FromSeconds(1));

    public static ModelUnavailableException DrainEnded() =>
        new("This instance shut down before the model finished this request (its drain, Model:DrainSeconds, ended); retry, and another instance will answer.",
            TimeSpan.FromSeconds(1));
}
