using Conway.Boards;
using Conway.Decoding;

namespace Conway.Api.Serving;

/// <summary>What each generation of a rollout is predicted from.</summary>
public enum RolloutFeed
{
    /// <summary>The model's previous output: the autoregressive rollout of the LifeGPT paper.</summary>
    Model,

    /// <summary>The rule's previous state (teacher forcing): every generation measures one-step accuracy on the true trajectory.</summary>
    Rule,
}

/// <summary>Why a rollout ended (its last line says so).</summary>
public enum RolloutEnd { Completed, Deadline, Shutdown, Failed, Busy }

/// <summary>
/// A validated rollout: its start, how many generations, what each is predicted from, the model (its name; null: the
/// default) and how to decode.
/// </summary>
public sealed record RolloutPlan(Board Start, int Steps, RolloutFeed Feed, string? Model, DecodeOptions Decode);

/// <summary>
/// Generation <paramref name="Step"/> of a rollout: the model's board checked against the rule's board after as many
/// steps from the same start; <paramref name="FirstDivergence"/> is the first step whose board differed from the
/// rule's, null until one did. <paramref name="Model"/> and <paramref name="Weights"/> say which model answered
/// (a reload between two generations changes the weights: each generation is a request of its own).
/// </summary>
public sealed record RolloutGeneration(int Step, CheckedPrediction Check, int? FirstDivergence, string Model, ModelInfo Weights);

/// <summary>How a rollout ended: why, after how many generations, and the error behind it (null when completed).</summary>
public sealed record RolloutOutcome(RolloutEnd Reason, int Steps, int? FirstDivergence, Exception? Error);
