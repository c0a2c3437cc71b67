using Conway.Api.Serving;
using Conway.Decoding;

namespace Conway.Api.Tests;

public sealed class ThroughputEstimateTests
{
    [Fact]
    public void Devices_Combine_AsTheirSpeedsAdd_SoTheWorkOverTheDevicesIsTheTimeTheyTakeTogether()
    {
        var estimate = new ThroughputEstimate();
        estimate.Record("cuda:0", DecodeStrategy.Speculative, 4, TimeSpan.FromSeconds(4));    // 1 s a board
        estimate.Record("cpu", DecodeStrategy.Speculative, 2, TimeSpan.FromSeconds(6));       // 3 s a board

        // together 1 + 1/3 boards a second: 8 boards take 6 s, which is 8 x 1.5 s over the 2 devices
        Assert.Equal(1.5, estimate.SecondsPerBoard(DecodeStrategy.Speculative), 6);
    }

    [Fact]
    public void A_Device_IsPricedByItsLastCalls_BoardsWeighted_TheOldestForgottenPastTheWindow()
    {
        var estimate = new ThroughputEstimate();
        estimate.Record("cpu", DecodeStrategy.Speculative, 2, TimeSpan.FromSeconds(20));      // a slow warm-up
        Assert.Equal(10, estimate.SecondsPerBoard(DecodeStrategy.Speculative), 6);
        estimate.Record("cpu", DecodeStrategy.Speculative, 8, TimeSpan.FromSeconds(8));
        Assert.Equal(28.0 / 10, estimate.SecondsPerBoard(DecodeStrategy.Speculative), 6);

        for (int i = 0; i < ThroughputEstimate.Window; i++) estimate.Record("cpu", DecodeStrategy.Speculative, 4, TimeSpan.FromSeconds(2));

        Assert.Equal(0.5, estimate.SecondsPerBoard(DecodeStrategy.Speculative), 6);
    }

    [Fact]
    public void A_StrategyNotRunYet_IsPricedFromTheOther_AndNothingRunYet_AtASecondABoard()
    {
        var estimate = new ThroughputEstimate();
        Assert.Equal(1.0, estimate.SecondsPerBoard(DecodeStrategy.Speculative));
        Assert.Equal(20.0, estimate.SecondsPerBoard(DecodeStrategy.Autoregressive));

        estimate.Record("cpu", DecodeStrategy.Speculative, 1, TimeSpan.FromSeconds(0.5));
        Assert.Equal(10.0, estimate.SecondsPerBoard(DecodeStrategy.Autoregressive), 6);
        estimate.Record("cpu", DecodeStrategy.Autoregressive, 1, TimeSpan.FromSeconds(17));
        Assert.Equal(17.0, estimate.SecondsPerBoard(DecodeStrategy.Autoregressive), 6);
    }
}
