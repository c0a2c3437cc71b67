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

    private static EvalReport Report()
    {
        var predictor = new RuleBreakingPredictor(new Dictionary<Board, int>
        {
            [Cases[2].Input] = 3,
            [LifeRule.Step(Patterns.Named["toad"])] = 1,
            [Paper.Trajectories[1][1]] = 7,
        });
        var evaluator = new Evaluator(predictor, DecodeOptions.Greedy, batch: 16);
        var trajectories = new[] { Patterns.Named["blinker"], Patterns.Named["toad"] }
            .Select(p => Enumerable.Range(0, 5).Select(g => LifeRule.Step(p, g)).ToArray()).ToArray();
        var run = new RunInfo("conway eval", "/m.safetensors", predictor.Info.Sha256, 0, "none", "cpu", "greedy, speculative", 16, 5, "/data/paper.csv", "/data/rollouts.csv",
            new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc), TimeSpan.FromSeconds(65));
        return EvalReport.Create(run, evaluator.Grade(Cases), 1, evaluator.Rollouts(trajectories, 4), 4);
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
