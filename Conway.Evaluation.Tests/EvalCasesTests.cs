using Conway.Boards;

namespace Conway.Evaluation.Tests;

public class EvalCasesTests
{
    [Fact]
    public void Random_boards_are_reproducible_from_the_seed_and_drawn_at_densities_0_02_to_0_98()
    {
        var boards = EvalCases.Random(500, seed: 7);

        Assert.Equal(boards.Select(c => c.Input), EvalCases.Random(500, seed: 7).Select(c => c.Input));
        Assert.NotEqual(boards.Select(c => c.Input), EvalCases.Random(500, seed: 8).Select(c => c.Input));
        Assert.All(boards, c => Assert.InRange(c.Density, 0.02, 0.98));
        Assert.All(boards, c => Assert.InRange((double)c.Input.Population / Board.Cells, c.Density - 0.08, c.Density + 0.08));
        Assert.All(boards, c => Assert.Equal(LifeRule.Step(c.Input), c.Truth));
        Assert.Equal(Enumerable.Range(0, 10), boards.Select(c => DensityBands.Of(c.Density)).Distinct().Order());
        Assert.Equal("random #1", boards[0].Label[..9]);
    }

    [Fact]
    public void Patterns_are_every_named_pattern_advanced_0_to_n_generations()
    {
        var cases = EvalCases.Patterns(3);

        Assert.Equal(Patterns.Names.Count * 4, cases.Length);
        var glider2 = Assert.Single(cases, c => c.Name == "glider" && c.Step == 2);
        Assert.Equal(LifeRule.Step(Patterns.Named["glider"], 2), glider2.Input);
        Assert.Equal(LifeRule.Step(Patterns.Named["glider"], 3), glider2.Truth);
        Assert.Equal("glider + 2 generations", glider2.Label);
    }

    [Fact]
    public void Paper_cases_grade_every_state_against_the_file_s_next_state()
    {
        var a = Board.Random(0.4, new Random(1));
        var b = Board.Random(0.4, new Random(2));
        var set = LifeGptTestSet.Parse(new StringReader($"State 1,State 2,State 3\n{a.ToCells()},{b.ToCells()},{a.ToCells()}\n"), "t.csv");

        var cases = EvalCases.Paper(set);

        Assert.Equal([1, 2], cases.Select(c => c.Step));
        Assert.Equal([a, b], cases.Select(c => c.Input));
        Assert.Equal([b, a], cases.Select(c => c.Truth));
        Assert.Equal("trajectory 1, State 2 -> 3", cases[1].Label);
    }
}
