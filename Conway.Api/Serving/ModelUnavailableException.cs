namespace Conway.Api.Serving;

/// <summary>The model failed to load, so this instance cannot predict.</summary>
public sealed class ModelUnavailableException()
    : Exception("The model failed to load, so this instance cannot predict; see /healthz/ready and the service log.");
