namespace Conway.Api.Serving;

/// <summary>A model's checkpoint could not be loaded on a device, or failed its self-test there; the message says which (never the path).</summary>
public sealed class ModelLoadException(string message) : Exception(message);
