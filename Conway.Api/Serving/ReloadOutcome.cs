using Conway.Decoding;

namespace Conway.Api.Serving;

/// <summary>
/// How a reload of a model ended: the weights it swapped in, or why nothing changed. <see cref="Trigger"/> says what
/// asked for it (<c>api</c>, or <c>file</c> when the checkpoint changed on disk).
/// </summary>
public sealed record ReloadOutcome(string Model, string Trigger, DateTimeOffset At, bool Swapped, string? Version, string? Problem)
{
    public static ReloadOutcome Succeeded(string model, string trigger, ModelInfo loaded) =>
        new(model, trigger, DateTimeOffset.UtcNow, true, ModelVersion.Of(loaded), null);

    public static ReloadOutcome Failed(string model, string trigger, string problem) =>
        new(model, trigger, DateTimeOffset.UtcNow, false, null, problem);
}
