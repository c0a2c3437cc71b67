namespace Conway.Api.Contracts;

/// <summary>The models this instance serves, the default first.</summary>
public sealed record ModelsResponse(IReadOnlyList<ModelDescription> Models);

/// <summary>A served model: where it stands on this instance, what its weights are, and its card's accuracy summary.</summary>
/// <param name="Name">What requests call it (<c>"model"</c>).</param>
/// <param name="Default">Whether requests that name no model get it.</param>
/// <param name="State">loading, ready (on at least one device) or failed (on every device).</param>
/// <param name="File">The checkpoint's file name.</param>
/// <param name="Sha256">The weights in use: the checkpoint's SHA-256 (null until loaded).</param>
/// <param name="Version">Its first 12 hex digits, as in <c>X-Model-Version</c>.</param>
/// <param name="Parameters">The number of parameters.</param>
/// <param name="Dtype">The dtype the checkpoint stores its weights in.</param>
/// <param name="Devices">The model's state on each device, with the reason where it failed.</param>
/// <param name="Card">The accuracy summary of the model card beside the checkpoint, when there is one.</param>
/// <param name="LastReload">How the last reload ended, if there was one.</param>
public sealed record ModelDescription(
    string Name, bool Default, string State, string File, string? Sha256, string? Version, long? Parameters, string? Dtype,
    IReadOnlyList<ModelDeviceState> Devices, ModelCardSummary? Card, ModelReload? LastReload);

/// <summary>A model's state on one device.</summary>
public sealed record ModelDeviceState(string Device, string State, string? Problem);

/// <summary>A model card's accuracy summary.</summary>
/// <param name="Steps">Training steps.</param>
/// <param name="HeldOutCells">Teacher-forced accuracy on held-out boards, per cell (0 to 1).</param>
/// <param name="HeldOutBoards">The same, per whole board.</param>
/// <param name="MatchesWeights">Whether the card's SHA-256 is that of the weights in use (null until they are loaded).</param>
public sealed record ModelCardSummary(int? Steps, double? HeldOutCells, double? HeldOutBoards, bool? MatchesWeights);

/// <summary>How a reload ended: swapped in new weights (their version), or left the old ones serving (and why).</summary>
public sealed record ModelReload(string Trigger, DateTimeOffset At, bool Swapped, string? Version, string? Problem);
