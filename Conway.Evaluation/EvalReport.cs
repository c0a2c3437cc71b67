using Conway.Boards;

namespace Conway.Evaluation;

/// <summary>What was run, on what, and how long it took; the test-set paths are null where they were skipped.</summary>
public sealed record RunInfo(
    string Command, string ModelPath, string ModelSha256, long Parameters, string DType, string Device,
    string Decoding, int Batch, int Seed, string? Paper10, string? Paper250, DateTime StartedUtc, TimeSpan Elapsed,
    string? BoardsFile = null);

/// <summary>A named pattern's wrong cells after 0, 1, 2, ... generations.</summary>
public sealed record PatternRow(string Name, int[] WrongCells);

/// <summary>The paper test set's transition State <see cref="From"/> -> From + 1 over all trajectories.</summary>
public sealed record TransitionRow(int From, int Boards, int ExactBoards);

/// <summary>A board predicted wrong, with its input as RLE so that it can be reproduced.</summary>
public sealed record WrongBoard(EvalSet Set, string Label, int WrongCells, string Rle);

/// <summary>
/// Every number of one evaluation (written as accuracy.json); skipped parts have no boards.
/// <see cref="Survival"/>[s] is the number of rollouts still exact after step s; <see cref="SoupSurvival"/> the same for
/// the random soups' rollouts.
/// </summary>
public sealed record EvalReport(
    RunInfo Run,
    Score Random, DensityBand[] Density,
    Score Listed,
    Score Patterns, int PatternGenerations, PatternRow[] PatternRows,
    Score Paper, TransitionRow[] PaperTransitions,
    int RolloutSteps, RolloutResult[] Rollouts, int[] Survival,
    int SoupSteps, RolloutResult[] Soups, int[] SoupSurvival,
    WrongBoard[] WrongBoards)
{
    public static EvalReport Create(RunInfo run, IReadOnlyList<GradedBoard> graded, int patternGenerations,
        IReadOnlyList<RolloutResult> rollouts, int rolloutSteps, IReadOnlyList<RolloutResult>? soups = null, int soupSteps = 0)
    {
        soups ??= [];
        GradedBoard[] Of(EvalSet set) => graded.Where(g => g.Case.Set == set).ToArray();
        var random = Of(EvalSet.Random);
        var patterns = Of(EvalSet.Pattern);
        var paper = Of(EvalSet.Paper);
        return new EvalReport(
            run,
            Score.Of(random), DensityBands.Summarize(random),
            Score.Of(Of(EvalSet.Listed)),
            Score.Of(patterns), patternGenerations,
            patterns.GroupBy(g => g.Case.Name).Select(p => new PatternRow(p.Key, p.Select(g => g.WrongCells).ToArray())).ToArray(),
            Score.Of(paper),
            paper.GroupBy(g => g.Case.Step).Select(t => new TransitionRow(t.Key, t.Count(), t.Count(g => g.Exact))).ToArray(),
            rolloutSteps, rollouts.ToArray(), Evaluator.Survival(rollouts, rolloutSteps),
            soupSteps, soups.ToArray(), Evaluator.Survival(soups, soupSteps),
            graded.Where(g => !g.Exact)
                .Select(g => new WrongBoard(g.Case.Set, g.Case.Label, g.WrongCells, PatternFormats.ToRle(g.Case.Input)))
                .ToArray());
    }

    /// <summary>density.csv: one row per band; the rates are empty where a band has no boards.</summary>
    public string DensityCsv() => Csv("band_low,band_high,boards,exact_boards,exact_rate,cell_accuracy",
        Density.Select(b => FormattableString.Invariant(
            $"{b.Low:0.0},{b.High:0.0},{b.Score.Boards},{b.Score.ExactBoards},{b.Score.ExactRate:0.######},{b.Score.CellAccuracy:0.########}")));

    /// <summary>rollouts.csv: the number of rollouts still exact after each step (empty when rollouts were skipped).</summary>
    public string RolloutsCsv() => Csv("step,still_exact",
        Rollouts.Length == 0 ? [] : Survival.Select((n, step) => FormattableString.Invariant($"{step},{n}")));

    /// <summary>soups.csv: one row per soup rollout; first_wrong_step is empty where it stayed exact for all its steps.</summary>
    public string SoupsCsv() => Csv("soup,initial_population,first_wrong_step,wrong_cells",
        Soups.Select(s => FormattableString.Invariant($"{s.Trajectory},{s.InitialPopulation},{s.FirstWrongStep},{s.WrongCells}")));

    private static string Csv(string header, IEnumerable<string> rows) => string.Join('\n', [header, .. rows]) + "\n";
}
