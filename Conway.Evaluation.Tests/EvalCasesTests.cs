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

    [Fact]
    public void Listed_boards_keep_their_order_and_are_graded_against_the_rule()
    {
        var boards = new[] { Board.Random(0.7, new Random(3)), Patterns.Named["glider"] };

        var cases = EvalCases.Listed(boards);

        Assert.Equal(boards, cases.Select(c => c.Input));
        Assert.Equal(boards.Select(b => LifeRule.Step(b)), cases.Select(c => c.Truth));
        Assert.All(cases, c => Assert.Equal(EvalSet.Listed, c.Set));
        Assert.Equal("listed board #2, density 0.005", cases[1].Label);   // a glider: 5 of 1,024 cells
    }

    [Fact]
    public void Soups_are_rule_trajectories_from_boards_at_densities_0_2_to_0_6_reproducible_from_the_seed_and_not_the_random_boards()
    {
        var soups = EvalCases.Soups(40, steps: 6, seed: 7);

        Assert.All(soups, s => Assert.Equal(7, s.Length));
        Assert.All(soups, s => Assert.All(Enumerable.Range(1, 6), g => Assert.Equal(LifeRule.Step(s[g - 1]), s[g])));
        Assert.All(soups, s => Assert.InRange((double)s[0].Population / Board.Cells, 0.2 - 0.08, 0.6 + 0.08));
        Assert.Equal(soups.Select(s => s[0]), EvalCases.Soups(40, 6, seed: 7).Select(s => s[0]));
        Assert.NotEqual(soups.Select(s => s[0]), EvalCases.Soups(40, 6, seed: 8).Select(s => s[0]));
        Assert.Empty(soups.Select(s => s[0]).Intersect(EvalCases.Random(40, seed: 7).Select(c => c.Input)));
    }
}
