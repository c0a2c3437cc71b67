using Conway.Boards;
using Conway.Decoding;

namespace Conway.Evaluation;

/// <summary>
/// How one autoregressive rollout went: <see cref="FirstWrongStep"/> is the first generation (1-based) whose
/// predicted board differs from the truth, with <see cref="WrongCells"/> cells wrong there; null if it never left it.
/// </summary>
public sealed record RolloutResult(int Trajectory, int InitialPopulation, int? FirstWrongStep, int WrongCells)
{
    public bool StillExactAt(int step) => FirstWrongStep is not { } wrong || wrong > step;
}

/// <summary>Where an evaluation stage stands: <see cref="Done"/> of <see cref="Total"/> (boards or rollout steps), and how it goes.</summary>
public sealed record EvalProgress(string Stage, int Done, int Total, string Status);

/// <summary>
/// Runs the model over evaluation boards in batches and grades every prediction cell by cell. Reports to
/// <paramref name="progress"/> as each stage starts and after every batch (grading) and every step (rollouts).
/// </summary>
public sealed class Evaluator(IBoardPredictor predictor, DecodeOptions options, int batch, IProgress<EvalProgress>? progress = null)
{
    /// <summary>Predicts every case (in batches of at most <c>batch</c> boards) and counts its wrong cells.</summary>
    public GradedBoard[] Grade(IReadOnlyList<EvalCase> cases)
    {
        var graded = new List<GradedBoard>(cases.Count);
        progress?.Report(new EvalProgress("graded boards", 0, cases.Count, ""));
        foreach (var chunk in cases.Chunk(batch))
        {
            var predictions = predictor.Predict(chunk.Select(c => c.Input).ToArray(), options);
            graded.AddRange(chunk.Select((c, i) => new GradedBoard(c, predictions[i].Next)));
            progress?.Report(new EvalProgress("graded boards", graded.Count, cases.Count, $"{graded.Count(g => g.Exact)} exact"));
        }
        return graded.ToArray();
    }

    /// <summary>
    /// Autoregressive rollouts ("ARAR"): each trajectory starts from its first state and the model's prediction is
    /// fed back as the next input, all rollouts batched together, for <paramref name="steps"/> steps. A rollout stops
    /// at its first wrong board; until then its own predictions are the truth, so that is where it leaves it.
    /// </summary>
    public RolloutResult[] Rollouts(IReadOnlyList<Board[]> trajectories, int steps)
    {
        int n = trajectories.Count;
        if (trajectories.Any(t => t.Length <= steps))
            throw new ArgumentOutOfRangeException(nameof(steps), $"{steps} steps need trajectories of {steps + 1} states.");
        var results = trajectories.Select((t, i) => new RolloutResult(i + 1, t[0].Population, null, 0)).ToArray();
        var current = trajectories.Select(t => t[0]).ToArray();
        var active = Enumerable.Range(0, n).ToList();
        progress?.Report(new EvalProgress("rollout steps", 0, steps, $"{n} rollouts"));
        for (int step = 1; step <= steps && active.Count > 0; step++)
        {
            var predictions = active.Chunk(batch)
                .SelectMany(chunk => predictor.Predict(chunk.Select(i => current[i]).ToArray(), options))
                .ToArray();
            for (int a = 0; a < active.Count; a++)
            {
                int i = active[a];
                current[i] = predictions[a].Next;
                int wrong = current[i].CountDifferences(trajectories[i][step]);
                if (wrong > 0) results[i] = results[i] with { FirstWrongStep = step, WrongCells = wrong };
            }
            active.RemoveAll(i => results[i].FirstWrongStep is not null);
            progress?.Report(new EvalProgress("rollout steps", active.Count == 0 ? steps : step, steps, $"{active.Count} of {n} rollouts still exact"));
        }
        return results;
    }

    /// <summary>The number of rollouts still exact after each step 0..<paramref name="steps"/> (all of them at step 0).</summary>
    public static int[] Survival(IReadOnlyList<RolloutResult> rollouts, int steps) =>
        Enumerable.Range(0, steps + 1).Select(s => rollouts.Count(r => r.StillExactAt(s))).ToArray();
}
