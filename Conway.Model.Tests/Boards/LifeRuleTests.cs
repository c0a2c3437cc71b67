using Conway.Boards;

namespace Conway.Model.Tests.Boards;

public class LifeRuleTests
{
    /// <summary>The obviously correct rule: count the 8 neighbours of every cell, wrapping with modulo.</summary>
    private static Board ReferenceStep(Board b)
    {
        const int n = Board.Size;
        var next = new byte[Board.Cells];
        for (int r = 0; r < n; r++)
            for (int c = 0; c < n; c++)
            {
                int neighbours = 0;
                for (int dr = -1; dr <= 1; dr++)
                    for (int dc = -1; dc <= 1; dc++)
                        if ((dr, dc) != (0, 0) && b[(r + dr + n) % n, (c + dc + n) % n]) neighbours++;
                next[r * n + c] = (byte)(neighbours == 3 || (neighbours == 2 && b[r, c]) ? 1 : 0);
            }
        return Board.FromCells(next);
    }

    [Theory]
    [InlineData(0.01)]
    [InlineData(0.05)]
    [InlineData(0.1)]
    [InlineData(0.2)]
    [InlineData(0.3)]
    [InlineData(0.375)]
    [InlineData(0.5)]
    [InlineData(0.7)]
    [InlineData(0.9)]
    [InlineData(0.99)]
    public void Step_matches_the_per_cell_reference_on_random_boards(double density)
    {
        var rng = new Random(1234 + (int)(density * 1000));
        for (int i = 0; i < 40; i++)
        {
            Board b = Board.Random(density, rng);
            Board expected = ReferenceStep(b);
            Assert.Equal(expected.ToString(), LifeRule.Step(b).ToString());
            Assert.Equal(ReferenceStep(ReferenceStep(ReferenceStep(expected))), LifeRule.Step(b, 4));
        }
    }

    [Fact]
    public void Blinker_flips_between_horizontal_and_vertical()
    {
        Board horizontal = Cells.Board((5, 4), (5, 5), (5, 6));
        Board vertical = LifeRule.Step(horizontal);
        Assert.Equal([(4, 5), (5, 5), (6, 5)], Cells.Of(vertical));
        Assert.Equal(horizontal, LifeRule.Step(vertical));
    }

    [Fact]
    public void Block_stays()
    {
        Board block = Cells.Board((10, 10), (10, 11), (11, 10), (11, 11));
        Assert.Equal(block, LifeRule.Step(block, 7));
    }

    [Fact]
    public void Glider_moves_one_cell_diagonally_every_4_generations()
    {
        Board glider = Cells.Board((0, 1), (1, 2), (2, 0), (2, 1), (2, 2));
        Assert.Equal([(1, 2), (2, 3), (3, 1), (3, 2), (3, 3)], Cells.Of(LifeRule.Step(glider, 4)));
        Assert.Equal([(10, 11), (11, 12), (12, 10), (12, 11), (12, 12)], Cells.Of(LifeRule.Step(glider, 40)));
    }

    [Fact]
    public void Glider_wraps_across_both_edges_back_to_its_start_after_128_generations()
    {
        Board glider = Cells.Board((0, 1), (1, 2), (2, 0), (2, 1), (2, 2));
        // At generation 120 it has moved 30 cells and straddles the bottom-right corner.
        Assert.Equal([(0, 0), (0, 30), (0, 31), (30, 31), (31, 0)], Cells.Of(LifeRule.Step(glider, 120)));
        Assert.Equal(glider, LifeRule.Step(glider, 128));
        Assert.NotEqual(glider, LifeRule.Step(glider, 64));
    }

    [Fact]
    public void Corner_cell_sees_neighbours_across_both_edges()
    {
        // Three live cells diagonal, above and left of (0, 0) across the edges: (0, 0) is born, and the four
        // corner cells form a block that wraps around the corner of the torus.
        Board corner = Cells.Board((31, 31), (31, 0), (0, 31));
        Board next = LifeRule.Step(corner);
        Assert.Equal([(0, 0), (0, 31), (31, 0), (31, 31)], Cells.Of(next));
        Assert.Equal(next, LifeRule.Step(next));
    }

    [Fact]
    public void Empty_stays_empty_and_full_dies_of_overcrowding()
    {
        Assert.Equal(Board.Empty, LifeRule.Step(Board.Empty, 3));
        Board full = Board.Random(1.0, new Random(0));
        Assert.Equal(Board.Cells, full.Population);
        Assert.Equal(Board.Empty, LifeRule.Step(full));
    }

    [Fact]
    public void Zero_generations_is_the_same_board_and_negative_is_rejected()
    {
        Board b = Board.Random(0.4, new Random(5));
        Assert.Equal(b, LifeRule.Step(b, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => LifeRule.Step(b, -1));
    }
}
