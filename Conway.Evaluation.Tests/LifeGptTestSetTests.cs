using Conway.Boards;

namespace Conway.Evaluation.Tests;

public class LifeGptTestSetTests
{
    private static readonly string Dead = new('0', Board.Cells);
    private static readonly string Blinker = Board.Empty.With(5, 4, true).With(5, 5, true).With(5, 6, true).ToCells();

    [SharedDataTheory]
    [InlineData("conway_test_states_32by32_20240716_151502.csv", 10)]
    [InlineData("conway_test_states_32by32_20240827_172807.csv", 250)]
    public void Read_gives_the_10_trajectories_of_the_paper_test_sets(string file, int states)
    {
        var set = LifeGptTestSet.Read(SharedData.Path("data", "lifegpt", file));

        Assert.Equal(10, set.Trajectories.Count);
        Assert.Equal(states, set.States);
        Assert.Equal([0, 254, 507, 768, 1024, 5, 40, 76, 12, 5], set.Trajectories.Select(t => t[0].Population));
        Assert.Equal(LifeRule.Step(set.Trajectories[2][states - 2]), set.Trajectories[2][states - 1]);
    }

    [Fact]
    public void Parse_reads_one_trajectory_per_line_in_state_order()
    {
        var set = LifeGptTestSet.Parse(new StringReader($"State 1,State 2\n{Blinker},{Dead}\n{Dead},{Blinker}\n"), "two.csv");

        Assert.Equal(2, set.States);
        Assert.Equal([3, 0, 0, 3], set.Trajectories.SelectMany(t => t).Select(b => b.Population));
    }

    [Fact]
    public void Parse_rejects_a_header_that_is_not_State_1_to_N()
    {
        var e = Assert.Throws<FormatException>(() => LifeGptTestSet.Parse(new StringReader($"State 1,State 3\n{Dead},{Dead}\n"), "bad.csv"));
        Assert.Equal("bad.csv, line 1: column 2 is 'State 3', expected 'State 2'.", e.Message);
    }

    [Fact]
    public void Parse_rejects_a_trajectory_with_a_missing_state()
    {
        var e = Assert.Throws<FormatException>(() => LifeGptTestSet.Parse(new StringReader($"State 1,State 2\n{Dead},{Dead}\n{Dead}\n"), "short.csv"));
        Assert.Equal("short.csv, line 3: 1 states, the header names 2.", e.Message);
    }

    [Fact]
    public void Parse_names_the_line_and_state_of_a_bad_cell()
    {
        string bad = Dead[..40] + "x" + Dead[41..];
        var e = Assert.Throws<FormatException>(() => LifeGptTestSet.Parse(new StringReader($"State 1,State 2\n{Dead},{bad}\n"), "bad.csv"));
        Assert.StartsWith("bad.csv, line 2, State 2: Row 1, column 8 (cell 40): 'x' is not a cell", e.Message);
    }
}
