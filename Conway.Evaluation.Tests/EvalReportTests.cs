using System.Xml.Linq;
using Conway.Boards;
using Conway.Decoding;

namespace Conway.Evaluation.Tests;

public class EvalReportTests
{
    /// <summary>Two soups of 3 states each, as a LifeGPT test-set CSV.</summary>
    private static readonly LifeGptTestSet Paper = LifeGptTestSet.Parse(new StringReader(
        "State 1,State 2,State 3\n" + string.Join('\n', new[] { 11, 12 }.Select(seed =>
            string.Join(',', Enumerable.Range(0, 3).Select(g => LifeRule.Step(Board.Random(0.3, new Random(seed)), g).ToCells()))))), "paper.csv");

    private static readonly EvalCase[] Cases = [.. EvalCases.Random(30, seed: 5), .. EvalCases.Patterns(1), .. EvalCases.Paper(Paper)];

    /// <summary>Three soups of 12 steps; the second is answered wrong from its state 5, so its rollout leaves the rule at step 6.</summary>
    private static readonly Board[][] Soups = EvalCases.Soups(3, steps: 12, seed: 9);

    private static EvalReport Report()
    {
        var predictor = new RuleBreakingPredictor(new Dictionary<Board, int>
        {
            [Cases[2].Input] = 3,
            [LifeRule.Step(Patterns.Named["toad"])] = 1,
            [Paper.Trajectories[1][1]] = 7,
            [Soups[1][5]] = 2,
        });
        var evaluator = new Evaluator(predictor, DecodeOptions.Greedy, batch: 16);
        var trajectories = new[] { Patterns.Named["blinker"], Patterns.Named["toad"] }
            .Select(p => Enumerable.Range(0, 5).Select(g => LifeRule.Step(p, g)).ToArray()).ToArray();
        var run = new RunInfo("conway eval", "/m.safetensors", predictor.Info.Sha256, 0, "none", "cpu", "greedy, speculative", 16, 5, "/data/paper.csv", "/data/rollouts.csv",
            new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc), TimeSpan.FromSeconds(65));
        return EvalReport.Create(run, evaluator.Grade(Cases), 1, evaluator.Rollouts(trajectories, 4), 4, evaluator.Rollouts(Soups, 12), 12);
    }

    [Fact]
    public void Report_lists_each_wrong_board_with_an_RLE_that_reproduces_its_input()
    {
        var report = Report();

        Assert.Equal([(EvalSet.Random, 3), (EvalSet.Pattern, 1), (EvalSet.Paper, 7)], report.WrongBoards.Select(w => (w.Set, w.WrongCells)));
        Assert.Equal(Cases[2].Input, PatternFormats.ParseRle(report.WrongBoards[0].Rle));
        Assert.Equal("toad + 1 generation", report.WrongBoards[1].Label);
        Assert.Equal([0, 1], report.PatternRows.Single(p => p.Name == "toad").WrongCells);
        Assert.Equal([(1, 2, 2), (2, 2, 1)], report.PaperTransitions.Select(t => (t.From, t.Boards, t.ExactBoards)));
        Assert.Equal("trajectory 2, State 2 -> 3", report.WrongBoards[2].Label);
        Assert.Equal((30, 29, 3L), (report.Random.Boards, report.Random.ExactBoards, report.Random.WrongCells));
        Assert.Equal([null, 2], report.Rollouts.Select(r => r.FirstWrongStep));
        Assert.Equal([2, 2, 1, 1, 1], report.Survival);
    }

    [Fact]
    public void Markdown_has_the_tables_and_the_wrong_boards()
    {
        string md = MarkdownReport.Write(Report());

        Assert.Contains("| random boards, density 0.02-0.98 | 30 | 29 | 96.66% | 99.9902% |", md);
        Assert.Contains("| toad | exact | **1 wrong** |", md);
        Assert.Contains("| 2 | 6 | **2** | 1 |", md);
        Assert.Contains("- toad + 1 generation: 1 wrong cell", md);
        Assert.Contains("First transition (State 1 -> 2): **2/2** exact; all transitions: **3/4**.", md);
        Assert.Contains("| State 2 -> 3 | 1/2 |", md);
        Assert.Contains("`rollouts.csv`: each trajectory from State 1 for 4 steps", md);
        Assert.Contains("rsvg-convert accuracy.svg -o accuracy.png", md);
    }

    [Fact]
    public void Soup_rollouts_report_where_each_left_the_rule_by_decade_of_steps()
    {
        var report = Report();

        Assert.Equal([null, 6, null], report.Soups.Select(s => s.FirstWrongStep));
        Assert.Equal(2, report.Soups[1].WrongCells);
        Assert.Equal([3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2], report.SoupSurvival);
        Assert.Equal($"soup,initial_population,first_wrong_step,wrong_cells\n1,{Soups[0][0].Population},,0\n2,{Soups[1][0].Population},6,2\n3,{Soups[2][0].Population},,0\n",
            report.SoupsCsv());
        string md = MarkdownReport.Write(report);
        Assert.Contains("Random soups perfect for all 12 steps: 2/3.", md);
        Assert.Contains("| 1-10 | 1 |\n| 11-12 | 0 |\n| none: perfect for all 12 steps | 2 |", md);
        Assert.Contains("Earliest: soup 2 at step 6 (2 wrong cells).", md);
    }

    [Fact]
    public void Listed_boards_get_their_own_summary_row_and_are_among_the_wrong_boards()
    {
        var listed = EvalCases.Listed([Board.Random(0.5, new Random(21)), Board.Random(0.5, new Random(22))]);
        var evaluator = new Evaluator(new RuleBreakingPredictor(new Dictionary<Board, int> { [listed[1].Input] = 1 }), DecodeOptions.Greedy, batch: 4);
        var run = new RunInfo("conway eval", "/m.safetensors", "0123456789abcdef", 0, "none", "cpu", "greedy, speculative", 4, 1, null, null,
            new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc), TimeSpan.FromSeconds(1), BoardsFile: "/tmp/run/wrong-boards.txt");

        var report = EvalReport.Create(run, evaluator.Grade(listed), 0, [], 0);
        string md = MarkdownReport.Write(report);

        Assert.Equal((2, 1, 1L), (report.Listed.Boards, report.Listed.ExactBoards, report.Listed.WrongCells));
        Assert.Contains("| boards from wrong-boards.txt | 2 | 1 | 50.00% |", md);
        Assert.Contains("- listed board #2, density", md);
        Assert.DoesNotContain("random boards, density", md);
    }

    [Fact]
    public void Csv_files_hold_one_row_per_band_and_per_step()
    {
        var report = Report();

        Assert.Equal(11, report.DensityCsv().TrimEnd('\n').Split('\n').Length);
        Assert.Equal("step,still_exact\n0,2\n1,2\n2,1\n3,1\n4,1\n", report.RolloutsCsv());
    }

    [Fact]
    public void Figure_is_a_well_formed_svg_with_both_panels()
    {
        var svg = XDocument.Parse(AccuracyFigure.Svg(Report()));

        XNamespace ns = "http://www.w3.org/2000/svg";
        Assert.Equal(ns + "svg", svg.Root!.Name);
        var texts = svg.Descendants(ns + "text").Select(t => t.Value).ToArray();
        Assert.Contains("Random boards by density band (30 boards)", texts);
        Assert.Contains("Autoregressive rollouts (2 trajectories)", texts);
        Assert.Contains("1 of 2 exact for all 4 steps", texts);
        Assert.NotEmpty(svg.Descendants(ns + "polyline"));
    }
}
