using Conway.Boards;
using Conway.Cli.Evaluation;

namespace Conway.Model.Tests.Evaluation;

public class DensityBandsTests
{
    [Theory]
    [InlineData(0.0, 0)]
    [InlineData(0.02, 0)]
    [InlineData(0.0999, 0)]
    [InlineData(0.1, 1)]
    [InlineData(0.3, 3)]
    [InlineData(0.7, 7)]
    [InlineData(0.6999, 6)]
    [InlineData(0.98, 9)]
    [InlineData(1.0, 9)]
    public void Of_puts_a_density_in_its_band_of_width_0_1(double density, int band) =>
        Assert.Equal(band, DensityBands.Of(density));

    [Fact]
    public void Summarize_scores_all_ten_bands_and_leaves_empty_ones_without_rates()
    {
        GradedBoard Graded(double density, int wrong) =>
            new(new EvalCase(EvalSet.Random, "#", 0, density, Board.Empty, Board.Empty),
                Board.FromCells(new string('1', wrong) + new string('0', Board.Cells - wrong)));   // `wrong` cells off the empty truth

        var bands = DensityBands.Summarize([Graded(0.05, 0), Graded(0.07, 2), Graded(0.55, 0), Graded(0.98, 1024)]);

        Assert.Equal(10, bands.Length);
        Assert.Equal(("0.0-0.1", 2, 1), (bands[0].Label, bands[0].Score.Boards, bands[0].Score.ExactBoards));
        Assert.Equal(0.5, bands[0].Score.ExactRate);
        Assert.Equal(1 - 2 / 2048.0, bands[0].Score.CellAccuracy);
        Assert.Equal((1, 1, 1.0), (bands[5].Score.Boards, bands[5].Score.ExactBoards, bands[5].Score.CellAccuracy));
        Assert.Equal((1, 0, 0.0), (bands[9].Score.Boards, bands[9].Score.ExactBoards, bands[9].Score.CellAccuracy));
        Assert.Equal((0.3, 0.4, 0, (double?)null, (double?)null),
            (bands[3].Low, bands[3].High, bands[3].Score.Boards, bands[3].Score.ExactRate, bands[3].Score.CellAccuracy));
    }
}
