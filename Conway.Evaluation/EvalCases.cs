using Conway.Boards;

namespace Conway.Evaluation;

public enum EvalSet { Random, Listed, Pattern, Paper }

/// <summary>
/// One board to predict and the answer to grade it against. <see cref="Step"/> is the generation a named pattern
/// was advanced by, or the paper trajectory's State number; <see cref="Density"/> is the density a random board
/// was drawn at, else its live fraction. A listed board (<c>--boards-file</c>) is named by its place in the list.
/// </summary>
public sealed record EvalCase(EvalSet Set, string Name, int Step, double Density, Board Input, Board Truth)
{
    public string Label => Set switch
    {
        EvalSet.Random => FormattableString.Invariant($"random {Name}, density {Density:0.000}"),
        EvalSet.Listed => FormattableString.Invariant($"listed board {Name}, density {Density:0.000}"),
        EvalSet.Pattern => $"{Name} + {Step} generation{(Step == 1 ? "" : "s")}",
        _ => $"{Name}, State {Step} -> {Step + 1}",
    };
}

/// <summary>The boards the evaluation predicts, each with the exact next state.</summary>
public static class EvalCases
{
    public const double MinDensity = 0.02, MaxDensity = 0.98;

    /// <summary>Random boards, each at a density drawn uniformly from [0.02, 0.98]; the same seed gives the same boards.</summary>
    public static EvalCase[] Random(int count, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(1, count).Select(i =>
        {
            double density = MinDensity + (MaxDensity - MinDensity) * rng.NextDouble();
            return Of(EvalSet.Random, $"#{i}", 0, density, Board.Random(density, rng));
        }).ToArray();
    }

    /// <summary>Boards from a list (e.g. the wrong boards of an earlier evaluation), in its order, each against the rule.</summary>
    public static EvalCase[] Listed(IReadOnlyList<Board> boards) =>
        boards.Select((b, i) => Of(EvalSet.Listed, $"#{i + 1}", 0, LiveFraction(b), b)).ToArray();

    /// <summary>The densities random soups are drawn at for <see cref="Soups"/>: the range where soups live longest.</summary>
    public const double MinSoupDensity = 0.2, MaxSoupDensity = 0.6;

    /// <summary>
    /// Rule trajectories of <paramref name="steps"/> generations from random soups at densities uniform in
    /// [<see cref="MinSoupDensity"/>, <see cref="MaxSoupDensity"/>], for rollouts; the same seed gives the same soups,
    /// which are not the random boards of the same seed.
    /// </summary>
    public static Board[][] Soups(int count, int steps, int seed)
    {
        var rng = new Random(unchecked(seed * 7919 + 17));
        return Enumerable.Range(0, count).Select(_ =>
        {
            var states = new Board[steps + 1];
            states[0] = Board.Random(MinSoupDensity + (MaxSoupDensity - MinSoupDensity) * rng.NextDouble(), rng);
            for (int g = 1; g <= steps; g++) states[g] = LifeRule.Step(states[g - 1]);
            return states;
        }).ToArray();
    }

    /// <summary>Every catalogue pattern, centred, advanced 0 to <paramref name="generations"/> generations.</summary>
    public static EvalCase[] Patterns(int generations) =>
        (from name in Boards.Patterns.Names
         from g in Enumerable.Range(0, generations + 1)
         let board = LifeRule.Step(Boards.Patterns.Named[name], g)
         select Of(EvalSet.Pattern, name, g, LiveFraction(board), board)).ToArray();

    /// <summary>Every transition State s -> s + 1 of every trajectory, graded against the file's own next state.</summary>
    public static EvalCase[] Paper(LifeGptTestSet set) =>
        (from t in Enumerable.Range(0, set.Trajectories.Count)
         from s in Enumerable.Range(0, set.States - 1)
         let states = set.Trajectories[t]
         select new EvalCase(EvalSet.Paper, $"trajectory {t + 1}", s + 1, LiveFraction(states[s]), states[s], states[s + 1])).ToArray();

    private static EvalCase Of(EvalSet set, string name, int step, double density, Board input) =>
        new(set, name, step, density, input, LifeRule.Step(input));

    private static double LiveFraction(Board b) => (double)b.Population / Board.Cells;
}
