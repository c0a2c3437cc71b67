using Conway.Boards;

namespace Conway.Training.Tests;

public sealed class HardBoardsTests
{
    private static readonly Board[] Mined = [.. Enumerable.Range(0, 3).Select(i => Board.Random(0.35, new Random(100 + i)))];

    [Fact]
    public void Every_torus_symmetry_commutes_with_the_rule_and_the_eight_orientations_are_distinct()
    {
        var rng = new Random(5);
        foreach (var board in Mined)
        {
            var orientations = Enumerable.Range(0, TorusSymmetry.Orientations).Select(o => TorusSymmetry.Apply(board, o)).ToArray();
            Assert.Equal(TorusSymmetry.Orientations, orientations.Distinct().Count());   // none is the identity in disguise
            for (int o = 0; o < TorusSymmetry.Orientations; o++)
            {
                int rows = rng.Next(Board.Size), cols = rng.Next(Board.Size);
                Assert.Equal(TorusSymmetry.Apply(LifeRule.Step(board), o, rows, cols), LifeRule.Step(TorusSymmetry.Apply(board, o, rows, cols)));
                Assert.Equal(board.Population, TorusSymmetry.Apply(board, o, rows, cols).Population);
            }
        }
        // the transpose moves cell (r, c) to (c, r)
        var cell = Board.Empty.With(3, 17, alive: true);
        Assert.Equal(Board.Empty.With(17, 3, alive: true), TorusSymmetry.Transpose(cell));
    }

    [Fact]
    public void Hard_boards_take_their_share_of_a_batch_as_variants_of_themselves_the_same_for_the_same_seed_and_step()
    {
        var hard = new HardBoards(Mined, share: 0.25);
        var variants = Mined.SelectMany(b => Enumerable.Range(0, TorusSymmetry.Orientations).SelectMany(o =>
            Enumerable.Range(0, Board.Cells).Select(t => TorusSymmetry.Apply(b, o, t / Board.Size, t % Board.Size)))).ToHashSet();

        var batch = TrainingBoards.Batch(seed: 1, step: 3, size: 400, hard);
        int drawn = batch.Count(variants.Contains);

        Assert.InRange(drawn, 60, 140);                                 // 100 expected; the bounds are 4.6 standard deviations
        Assert.Equal(batch, TrainingBoards.Batch(1, 3, 400, hard));     // a resumed run sees the same boards
        Assert.True(batch.Where(variants.Contains).Distinct().Count() > drawn * 9 / 10, "the draws repeat one variant");
        Assert.DoesNotContain(TrainingBoards.Batch(1, 3, 400), variants.Contains);   // without them, none is drawn
    }

    [Fact]
    public void Hard_boards_need_a_share_in_0_to_1_and_at_least_one_board_and_their_digest_follows_their_order()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new HardBoards(Mined, share: 0));
        Assert.Throws<ArgumentException>(() => new HardBoards([], share: 0.5));
        Assert.NotEqual(new HardBoards(Mined, 0.5).Sha256, new HardBoards(Mined.Reverse().ToArray(), 0.5).Sha256);
    }
}
