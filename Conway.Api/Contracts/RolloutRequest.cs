using System.ComponentModel.DataAnnotations;
using Conway.Api.Serving;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Validation;

namespace Conway.Api.Contracts;

/// <summary>
/// A rollout: the model run for <c>steps</c> generations from one board, given as exactly one of <c>board</c>,
/// <c>rle</c> or <c>cells</c>, each generation checked against the rule. <c>deadlineMs</c> bounds the whole rollout.
/// </summary>
[ValidatableType]
public sealed record RolloutRequest : OneBoardRequest
{
    /// <summary>Generations to run, 1 to Model:MaxRolloutSteps (default 1000).</summary>
    public int Steps { get; init; }

    /// <summary>
    /// model (default): each generation is predicted from the model's previous output (the autoregressive rollout);
    /// rule: from the rule's previous state (teacher forcing), so each generation measures one-step accuracy.
    /// </summary>
    public RolloutFeed Feed { get; init; } = RolloutFeed.Model;

    /// <summary>The board's forms, and 1 to Model:MaxRolloutSteps (of the options the service runs with) steps.</summary>
    public override IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        int maxSteps = validationContext.GetRequiredService<IOptions<ModelOptions>>().Value.MaxRolloutSteps;
        if (Steps < 1 || Steps > maxSteps)
            yield return new ValidationResult($"Must be from 1 to {maxSteps} (Model:MaxRolloutSteps); got {Steps}.", ["steps"]);
        foreach (var problem in base.Validate(validationContext)) yield return problem;
    }
}
