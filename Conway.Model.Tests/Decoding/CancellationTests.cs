using System.Diagnostics;
using Conway.Boards;
using Conway.Decoding;

namespace Conway.Model.Tests.Decoding;

public sealed class CancellationTests
{
    [Fact]
    public void Cancelled_plain_decoding_stops_between_steps_instead_of_finishing_the_board()
    {
        using var predictor = LifeGptPredictor.Load(Repository.ShippedModel, "cpu");
        var options = DecodeOptions.Greedy with { Strategy = DecodeStrategy.Autoregressive };
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        var clock = Stopwatch.StartNew();
        Assert.ThrowsAny<OperationCanceledException>(() => predictor.Predict([Patterns.Named["glider"]], options, cancellation.Token));

        // a whole board is 1,024 steps (about 11 s on a 2-core CPU); stopping between steps takes a step or two
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(8), $"took {clock.Elapsed.TotalSeconds:F1} s to stop");
    }
}
