using System.Text.Json.Serialization;
using Conway.Api.Serving;
using Microsoft.AspNetCore.Mvc;

namespace Conway.Api.Contracts;

/// <summary>One line of a rollout's stream: a <c>generation</c>, or the <c>end</c> (always the last line).</summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(RolloutGenerationLine), "generation")]
[JsonDerivedType(typeof(RolloutEndLine), "end")]
public abstract record RolloutLine;

/// <summary>Generation <c>step</c>: the model's board beside the rule's after as many steps from the same start.</summary>
/// <param name="Step">The generation, from 1.</param>
/// <param name="Board">The model's board after <c>step</c> steps, 32 rows of '0'/'1'.</param>
/// <param name="Rule">The rule's board after <c>step</c> steps from the same start.</param>
/// <param name="Mismatches">The [row, column] of each cell where the two differ.</param>
/// <param name="MatchesRule">Whether the two boards are equal.</param>
/// <param name="FirstDivergence">The first step whose board differed from the rule's; null until one did.</param>
/// <param name="Model">The name of the model that predicted this generation.</param>
/// <param name="ModelVersion">Its weights' SHA-256, first 12 hex digits (a reload during the rollout changes it).</param>
public sealed record RolloutGenerationLine(
    int Step,
    IReadOnlyList<string> Board,
    IReadOnlyList<string> Rule,
    IReadOnlyList<int[]> Mismatches,
    bool MatchesRule,
    int? FirstDivergence,
    string Model,
    string ModelVersion) : RolloutLine
{
    /// <summary>Speculative decoding: the verification passes this generation took. Absent for autoregressive.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? Passes { get; init; }

    /// <summary>Per cell, the model's probability that it is alive (32 rows of 32); only when asked for.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<float[]>? PAlive { get; init; }
}

/// <summary>The last line: why the rollout ended, after how many generations.</summary>
/// <param name="Reason">completed, or why not: deadline (504), shutdown (503), failed (the model failed, its circuit is open, or a batch timed out), busy (429).</param>
/// <param name="Steps">The generations streamed.</param>
/// <param name="FirstDivergence">The first step whose board differed from the rule's; null if none did.</param>
public sealed record RolloutEndLine(RolloutEnd Reason, int Steps, int? FirstDivergence) : RolloutLine
{
    /// <summary>The problem details the request would have had, had it failed before streaming; absent when completed.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ProblemDetails? Problem { get; init; }
}
