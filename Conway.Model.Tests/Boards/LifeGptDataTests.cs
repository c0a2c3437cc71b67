using Conway.Boards;

namespace Conway.Model.Tests.Boards;

/// <summary>
/// The LifeGPT paper's test sets: a CSV whose header is "State 1,...,State N" and whose every other line is one
/// trajectory of N boards, each 1024 '0'/'1' cells row-major. Every consecutive pair must be one step of the rule.
/// </summary>
public class LifeGptDataTests
{
    [SharedDataTheory]
    [InlineData("conway_test_states_32by32_20240716_151502.csv", 10)]
    [InlineData("conway_test_states_32by32_20240827_172807.csv", 250)]
    public void LifeRule_reproduces_every_transition_of_the_LifeGPT_test_set(string file, int states)
    {
        string[] lines = File.ReadAllLines(SharedData.Path("data", "lifegpt", file));
        Assert.Equal(Enumerable.Range(1, states).Select(i => $"State {i}"), lines[0].Split(','));

        Board[][] trajectories = lines.Skip(1).Select(line => line.Split(',').Select(cells => Board.FromCells(cells)).ToArray()).ToArray();
        Assert.Equal(10, trajectories.Length);
        Assert.All(trajectories, t => Assert.Equal(states, t.Length));

        var mismatches = new List<string>();
        int checkedTransitions = 0;
        for (int t = 0; t < trajectories.Length; t++)
            for (int s = 0; s + 1 < states; s++, checkedTransitions++)
            {
                int wrong = LifeRule.Step(trajectories[t][s]).CountDifferences(trajectories[t][s + 1]);
                if (wrong > 0) mismatches.Add($"trajectory {t + 1}, state {s + 1} -> {s + 2}: {wrong} cells differ");
            }
        Assert.Empty(mismatches);
        Assert.Equal(10 * (states - 1), checkedTransitions);
    }

    [SharedDataFact]
    public void Test_sets_start_from_the_same_boards_at_densities_0_to_1()
    {
        Board[] FirstStates(string file) =>
            File.ReadLines(SharedData.Path("data", "lifegpt", file)).Skip(1).Select(line => Board.FromCells(line.AsSpan(0, Board.Cells))).ToArray();

        Board[] shortSet = FirstStates("conway_test_states_32by32_20240716_151502.csv");
        Assert.Equal(shortSet, FirstStates("conway_test_states_32by32_20240827_172807.csv"));
        Assert.Equal([0, 254, 507, 768, 1024, 5, 40, 76, 12, 5], shortSet.Select(b => b.Population));
    }
}
