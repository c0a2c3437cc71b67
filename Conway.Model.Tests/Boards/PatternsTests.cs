using Conway.Boards;

namespace Conway.Model.Tests.Boards;

public class PatternsTests
{
    [Theory]
    [InlineData("block", 4)]
    [InlineData("beehive", 6)]
    [InlineData("loaf", 7)]
    [InlineData("boat", 5)]
    [InlineData("tub", 4)]
    public void Still_lifes_do_not_change(string name, int population)
    {
        Board b = Patterns.Named[name];
        Assert.Equal(population, b.Population);
        Assert.Equal(b, LifeRule.Step(b));
    }

    [Theory]
    [InlineData("blinker", 3, 2)]
    [InlineData("toad", 6, 2)]
    [InlineData("beacon", 8, 2)]
    [InlineData("pulsar", 48, 3)]
    [InlineData("pentadecathlon", 12, 15)]
    public void Oscillators_return_after_exactly_their_period(string name, int population, int period)
    {
        Board b = Patterns.Named[name];
        Assert.Equal(population, b.Population);
        for (int g = 1; g < period; g++) Assert.NotEqual(b, LifeRule.Step(b, g));
        Assert.Equal(b, LifeRule.Step(b, period));
    }

    [Theory]
    [InlineData("glider", 5, 1, 1)]
    [InlineData("lwss", 9, 0, -2)]
    [InlineData("mwss", 11, 0, -2)]
    [InlineData("hwss", 13, 0, -2)]
    public void Spaceships_reappear_translated_after_4_generations(string name, int population, int rows, int cols)
    {
        Board b = Patterns.Named[name];
        Assert.Equal(population, b.Population);
        for (int g = 1; g < 4; g++) Assert.NotEqual(b.Translate(rows, cols), LifeRule.Step(b, g));
        Assert.Equal(b.Translate(rows, cols), LifeRule.Step(b, 4));
    }

    [Theory]
    [InlineData("r-pentomino", 5)]
    [InlineData("diehard", 7)]
    [InlineData("acorn", 7)]
    [InlineData("b-heptomino", 7)]
    [InlineData("pi-heptomino", 7)]
    public void Methuselahs_have_their_seed_population(string name, int population) =>
        Assert.Equal(population, Patterns.Named[name].Population);

    [Fact]
    public void Diehard_vanishes_after_exactly_130_generations()
    {
        // It never grows beyond 14 cells across, so the torus evolves it as the infinite plane does.
        Board diehard = Patterns.Named["diehard"];
        Assert.True(LifeRule.Step(diehard, 129).Population > 0);
        Assert.Equal(Board.Empty, LifeRule.Step(diehard, 130));
    }

    [Fact]
    public void Glider_is_the_south_east_glider_centred_on_the_torus()
    {
        Assert.Equal([(14, 15), (15, 16), (16, 14), (16, 15), (16, 16)], Cells.Of(Patterns.Named["glider"]));
    }

    [Fact]
    public void Every_pattern_is_centred_clear_of_the_edges_and_listed_by_name()
    {
        Assert.Equal(19, Patterns.Names.Count);
        Assert.Equal(Patterns.Names.Order(), Patterns.Named.Keys.Order());
        foreach (string name in Patterns.Names)
        {
            var cells = Cells.Of(Patterns.Named[name]);
            Assert.All(cells, cell => Assert.InRange(cell.Row, 8, 23));
            Assert.All(cells, cell => Assert.InRange(cell.Col, 8, 23));
        }
    }

    [Fact]
    public void Names_are_looked_up_ignoring_case()
    {
        Assert.Same(Patterns.Named["lwss"], Patterns.Named["LWSS"]);
        Assert.False(Patterns.Named.ContainsKey("gosper-glider-gun"));
    }
}
