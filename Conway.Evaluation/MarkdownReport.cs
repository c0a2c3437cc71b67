using System.Globalization;
using System.Text;

namespace Conway.Evaluation;

/// <summary>accuracy.md: the evaluation as Markdown tables, then the wrong boards as RLE.</summary>
public static class MarkdownReport
{
    /// <summary>At most this many wrong boards of each set are listed here; accuracy.json has them all.</summary>
    public const int ListedPerSet = 25;

    public const string PngCommand = "rsvg-convert accuracy.svg -o accuracy.png";

    public static string Write(EvalReport r)
    {
        var md = new Md();
        var run = r.Run;
        md.Raw("# LifeGPT accuracy");
        md.Line();
        md.Line($"- Command: `{run.Command}`");
        md.Line($"- Model: `{run.ModelPath}` ({run.Parameters:N0} parameters, {run.DType})");
        md.Line($"- SHA-256: `{run.ModelSha256}`");
        md.Line($"- Device: {run.Device}; decoding: {run.Decoding}, batches of {run.Batch}; seed {run.Seed}");
        md.Line($"- Date: {run.StartedUtc:yyyy-MM-dd HH:mm:ss} UTC; total time {run.Elapsed:hh\\:mm\\:ss}");
        md.Line();
        md.Raw("![accuracy](accuracy.svg)");
        md.Line();
        md.Line($"(PNG: `{PngCommand}`.) Every prediction is graded cell by cell against the exact B3/S23 rule on the 32x32 torus.");

        md.Line();
        md.Raw("## Summary");
        md.Line();
        md.Table(["set", "boards", "exact boards", "exact %", "cell accuracy"],
            new[]
            {
                (FormattableString.Invariant($"random boards, density {EvalCases.MinDensity}-{EvalCases.MaxDensity}"), r.Random),
                ($"boards from {Path.GetFileName(run.BoardsFile)}", r.Listed),
                ($"named patterns, + 0-{r.PatternGenerations} generations", r.Patterns),
                ("LifeGPT test set, every transition", r.Paper),
            }.Where(set => set.Item2.Boards > 0).Select(set => ScoreRow(set.Item1, set.Item2)));
        if (r.Rollouts.Length > 0)
            md.Line($"Rollouts perfect for all {r.RolloutSteps} steps: {r.Survival[^1]}/{r.Rollouts.Length}.");
        if (r.Soups.Length > 0)
        {
            if (r.Rollouts.Length > 0) md.Line();
            md.Line($"Random soups perfect for all {r.SoupSteps} steps: {r.SoupSurvival[^1]}/{r.Soups.Length}.");
        }

        md.Section($"Random boards by density band ({r.Random.Boards} boards)", r.Random.Boards == 0);
        if (r.Random.Boards > 0)
            md.Table(["density", "boards", "exact boards", "exact %", "cell accuracy"],
                r.Density.Select(b => ScoreRow(b.Label, b.Score)));

        md.Section($"Named patterns (wrong cells after n generations; {r.Patterns.ExactBoards}/{r.Patterns.Boards} exact)", r.Patterns.Boards == 0);
        if (r.Patterns.Boards > 0)
            md.Table(["pattern", .. Enumerable.Range(0, r.PatternGenerations + 1).Select(g => $"+{g}")],
                r.PatternRows.Select(p => (string[])[p.Name, .. p.WrongCells.Select(w => w == 0 ? "exact" : $"**{w} wrong**")]));

        md.Section("LifeGPT test set: each state predicted from the true one", r.Paper.Boards == 0);
        if (r.Paper.Boards > 0)
        {
            var first = r.PaperTransitions[0];
            md.Line($"`{Path.GetFileName(run.Paper10)}`, {r.Paper.Boards / r.PaperTransitions.Length} trajectories. First transition (State 1 -> 2): **{first.ExactBoards}/{first.Boards}** exact; all transitions: **{r.Paper.ExactBoards}/{r.Paper.Boards}**.");
            md.Line();
            md.Table(["transition", "exact boards"],
                r.PaperTransitions.Select(t => (string[])[$"State {t.From} -> {t.From + 1}", $"{t.ExactBoards}/{t.Boards}"]));
        }

        md.Section("Autoregressive rollouts (ARAR): the model fed its own predictions", r.Rollouts.Length == 0);
        if (r.Rollouts.Length > 0)
        {
            md.Line($"`{Path.GetFileName(run.Paper250)}`: each trajectory from State 1 for {r.RolloutSteps} steps, all rollouts in one batch per step; a rollout stops at its first wrong board.");
            md.Line();
            md.Table(["trajectory", "live cells at State 1", "first wrong step", "wrong cells there"],
                r.Rollouts.Select(o => (string[])[$"{o.Trajectory}", $"{o.InitialPopulation}",
                    o.FirstWrongStep is { } s ? $"**{s}**" : $"perfect for all {r.RolloutSteps} steps", $"{o.WrongCells}"]));
        }

        if (r.Soups.Length > 0) Soups(md, r);

        md.Section($"Wrong boards ({r.WrongBoards.Length})", false);
        if (r.WrongBoards.Length == 0) md.Raw("None: every board was predicted exactly.");
        foreach (var set in r.WrongBoards.GroupBy(w => w.Set))
        {
            foreach (var w in set.Take(ListedPerSet))
            {
                md.Line($"- {w.Label}: {w.WrongCells} wrong cell{(w.WrongCells == 1 ? "" : "s")}");
                md.Line();
                md.Raw("  ```");
                foreach (string line in w.Rle.TrimEnd('\n').Split('\n')) md.Raw("  " + line);
                md.Raw("  ```");
            }
            int more = set.Count() - ListedPerSet;
            if (more > 0) md.Line($"- ... and {more} more {set.Key.ToString().ToLowerInvariant()} boards (all listed in accuracy.json)");
        }
        return md.ToString();
    }

    /// <summary>The soups' rollouts: how many first left the rule in each decade of steps, and the earliest of them.</summary>
    private static void Soups(Md md, EvalReport r)
    {
        md.Section($"Random soups: {r.Soups.Length} rollouts of {r.SoupSteps} steps against the rule", false);
        md.Line($"Soups at densities {EvalCases.MinSoupDensity}-{EvalCases.MaxSoupDensity} (seed {r.Run.Seed}), each rolled out from its first state on the model's own predictions and compared with the rule's trajectory every step; a rollout stops at its first wrong board (every soup: soups.csv).");
        md.Line();
        var decades = new List<(int Low, int High)>();
        for (int low = 1, high = 10; low <= r.SoupSteps; low = high + 1, high *= 10) decades.Add((low, Math.Min(high, r.SoupSteps)));
        md.Table(["first wrong step", "soups"],
            [.. decades.Select(d => (string[])[$"{d.Low}-{d.High}", $"{r.Soups.Count(s => s.FirstWrongStep >= d.Low && s.FirstWrongStep <= d.High)}"]),
             [$"none: perfect for all {r.SoupSteps} steps", $"{r.SoupSurvival[^1]}"]]);
        var earliest = r.Soups.Where(s => s.FirstWrongStep is not null).OrderBy(s => s.FirstWrongStep).Take(5).ToArray();
        if (earliest.Length > 0)
            md.Line($"Earliest: {string.Join("; ", earliest.Select(s => $"soup {s.Trajectory} at step {s.FirstWrongStep} ({s.WrongCells} wrong cell{(s.WrongCells == 1 ? "" : "s")})"))}.");
    }

    private static string[] ScoreRow(string name, Score s) =>
        [name, $"{s.Boards}", $"{s.ExactBoards}", Percent(s.ExactRate, 2), Percent(s.CellAccuracy, 4)];

    private static string Percent(double? rate, int decimals) => rate is { } x ? Score.Percent(x, decimals) + "%" : "-";

    /// <summary>A Markdown writer that formats numbers the same way on every machine.</summary>
    private sealed class Md
    {
        private readonly StringBuilder _sb = new();

        public void Line(FormattableString text) => Raw(text.ToString(CultureInfo.InvariantCulture));
        public void Line() => Raw("");
        public void Raw(string text) => _sb.Append(text).Append('\n');

        public void Section(string title, bool skipped)
        {
            if (!_sb.ToString().EndsWith("\n\n", StringComparison.Ordinal)) Line();
            Line($"## {title}");
            Line();
            if (skipped) Raw("Skipped.");
        }

        public void Table(string[] header, IEnumerable<string[]> rows)
        {
            Raw("| " + string.Join(" | ", header) + " |");
            Raw("|" + string.Concat(header.Select((_, i) => i == 0 ? " --- |" : " ---: |")));
            foreach (var row in rows) Raw("| " + string.Join(" | ", row) + " |");
            Line();
        }

        public override string ToString() => _sb.ToString();
    }
}
