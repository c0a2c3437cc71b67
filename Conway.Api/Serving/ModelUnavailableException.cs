namespace Conway.Api.Serving;

/// <summary>This instance cannot predict: its model failed to load or its self-test, or it is shutting down.</summary>
public sealed class ModelUnavailableException(string message) : Exception(message)
{
    public static ModelUnavailableException Failed() =>
        new("The model failed to load or its self-test, so this instance cannot predict; see /healthz/ready and the service log.");

    public static ModelUnavailableException ShuttingDown() =>
        new("This instance is shutting down and takes no new work; retry, and another instance will answer.");
}
