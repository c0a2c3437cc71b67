using System.Diagnostics;
using Conway.Boards;
using Conway.Decoding;

namespace Conway.Cli.Evaluation;

/// <summary>
/// How one autoregressive rollout went: <see cref="FirstWrongStep"/> is the first generation (1-based) whose
/// predicted board differs from the truth, with <see cref="WrongCells"/> cells wrong there; null if it never left it.
/// </summary>
public sealed record RolloutResult(int Trajectory, int InitialPopulation, int? FirstWrongStep, int WrongCells)
{
    public bool StillExactAt(int step) => FirstWrongStep is not { } wrong || wrong > step;
}

/// <summary>
/// Runs the model over evaluation boards in batches and grades every prediction cell by cell. Progress goes to
/// <paramref name="progress"/> at most every few seconds.
/// </summary>
public sealed class Evaluator(IBoardPredictor predictor, DecodeOptions options, int batch, TextWriter? progress = null)
{
    private static readonly TimeSpan ProgressEvery = TimeSpan.FromSeconds(5);
    private readonly Stopwatch _sinceProgress = Stopwatch.StartNew();

    /// <summary>Predicts every case (in batches of at most <c>batch</c> boards) and counts its wrong cells.</summary>
    public GradedBoard[] Grade(IReadOnlyList<EvalCase> cases)
    {
        var clock = Stopwatch.StartNew();
        var graded = new List<GradedBoard>(cases.Count);
        foreach (var chunk in cases.Chunk(batch))
        {
            var predictions = predictor.Predict(chunk.Select(c => c.Input).ToArray(), options);
            graded.AddRange(chunk.Select((c, i) => new GradedBoard(c, predictions[i].Next)));
            double done = (double)graded.Count / cases.Count;
            var left = TimeSpan.FromSeconds(clock.Elapsed.TotalSeconds * (1 - done) / done);
            Report($"graded {graded.Count}/{cases.Count} boards, {graded.Count(g => g.Exact)} exact, " +
                   $"{clock.Elapsed:hh\\:mm\\:ss} elapsed, ~{left:hh\\:mm\\:ss} left", graded.Count == cases.Count);
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
            Report($"rollout step {step}/{steps}: {active.Count} of {n} still exact", step == steps || active.Count == 0);
        }
        return results;
    }

    /// <summary>The number of rollouts still exact after each step 0..<paramref name="steps"/> (all of them at step 0).</summary>
    public static int[] Survival(IReadOnlyList<RolloutResult> rollouts, int steps) =>
        Enumerable.Range(0, steps + 1).Select(s => rollouts.Count(r => r.StillExactAt(s))).ToArray();

    private void Report(string message, bool force)
    {
        if (progress is null || (!force && _sinceProgress.Elapsed < ProgressEvery)) return;
        progress.WriteLine($"eval: {message}");
        _sinceProgress.Restart();
    }
}
