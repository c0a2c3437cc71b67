using Conway.Api.Contracts;
using Conway.Api.Http;
using Conway.Api.Serving;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Conway.Api.Endpoints;

/// <summary>A rollout's lines, made from the <see cref="RolloutService"/>'s generations and outcome.</summary>
internal static class RolloutLines
{
    public static RolloutGenerationLine Generation(RolloutGeneration generation)
    {
        var check = generation.Check;
        return new RolloutGenerationLine(generation.Step, check.Prediction.Next.ToRows(), check.Rule.ToRows(), PredictResponses.Cells(check),
            check.MatchesRule, generation.FirstDivergence, generation.Model, ModelVersion.Of(generation.Weights))
        {
            Passes = check.Prediction.Passes,
            PAlive = PredictResponses.PAlive(check),
        };
    }

    /// <summary>The end line, with the problem details the failure would have had as a response (none when completed).</summary>
    public static RolloutEndLine End(RolloutOutcome outcome, TimeSpan deadline, HttpContext http) =>
        new(outcome.Reason, outcome.Steps, outcome.FirstDivergence)
        {
            Problem = outcome.Error is { } error ? Problem(error, outcome.Reason, deadline, http).ProblemDetails : null,
        };

    /// <summary>The failure's problem as <see cref="ServingProblems"/> says it, with the request's ids as every problem response carries them.</summary>
    private static ProblemHttpResult Problem(Exception error, RolloutEnd reason, TimeSpan deadline, HttpContext http)
    {
        var problem = ServingProblems.From(error, http.Response, deadline, deadlinePassed: reason == RolloutEnd.Deadline)
            ?? Problems.Status(StatusCodes.Status500InternalServerError, "The model failed on a generation of this rollout; see the service log.");
        return Problems.WithIds(problem, http);
    }
}
