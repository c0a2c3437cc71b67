using Conway.Api.Serving;
using Conway.Decoding;

namespace Conway.Api.Tests;

public sealed class ThroughputEstimateTests
{
    [Fact]
    public void Devices_Combine_AsTheirSpeedsAdd_SoTheWorkOverTheDevicesIsTheTimeTheyTakeTogether()
    {
        var estimate = new ThroughputEstimate();
        estimate.Record("cuda:0", "m", DecodeStrategy.Speculative, 4, TimeSpan.FromSeconds(4));    // 1 s a board
        estimate.Record("cpu", "m", DecodeStrategy.Speculative, 2, TimeSpan.FromSeconds(6));       // 3 s a board

        // together 1 + 1/3 boards a second: 8 boards take 6 s, which is 8 x 1.5 s over the 2 devices
        Assert.Equal(1.5, estimate.SecondsPerBoard("m", DecodeStrategy.Speculative), 6);
    }

    [Fact]
    public void A_Device_IsPricedByItsLastCalls_BoardsWeighted_TheOldestForgottenPastTheWindow()
    {
        var estimate = new ThroughputEstimate();
        estimate.Record("cpu", "m", DecodeStrategy.Speculative, 2, TimeSpan.FromSeconds(20));      // a slow warm-up
        Assert.Equal(10, estimate.SecondsPerBoard("m", DecodeStrategy.Speculative), 6);
        estimate.Record("cpu", "m", DecodeStrategy.Speculative, 8, TimeSpan.FromSeconds(8));
        Assert.Equal(28.0 / 10, estimate.SecondsPerBoard("m", DecodeStrategy.Speculative), 6);

        for (int i = 0; i < ThroughputEstimate.Window; i++) estimate.Record("cpu", "m", DecodeStrategy.Speculative, 4, TimeSpan.FromSeconds(2));

        Assert.Equal(0.5, estimate.SecondsPerBoard("m", DecodeStrategy.Speculative), 6);
    }

    [Fact]
    public void A_StrategyNotRunYet_IsPricedFromTheOther_AndNothingRunYet_AtASecondABoard()
    {
        var estimate = new ThroughputEstimate();
        Assert.Equal(1.0, estimate.SecondsPerBoard("m", DecodeStrategy.Speculative));
        Assert.Equal(20.0, estimate.SecondsPerBoard("m", DecodeStrategy.Autoregressive));

        estimate.Record("cpu", "m", DecodeStrategy.Speculative, 1, TimeSpan.FromSeconds(0.5));
        Assert.Equal(10.0, estimate.SecondsPerBoard("m", DecodeStrategy.Autoregressive), 6);
        estimate.Record("cpu", "m", DecodeStrategy.Autoregressive, 1, TimeSpan.FromSeconds(17));
        Assert.Equal(17.0, estimate.SecondsPerBoard("m", DecodeStrategy.Autoregressive), 6);
    }

    [Fact]
    public void Each_Model_IsPricedByItsOwnCalls()
    {
        var estimate = new ThroughputEstimate();
        estimate.Record("cpu", "trained", DecodeStrategy.Speculative, 4, TimeSpan.FromSeconds(2));     // 0.5 s a board
        estimate.Record("cpu", "imperfect", DecodeStrategy.Speculative, 4, TimeSpan.FromSeconds(12));  // 3 s a board

        Assert.Equal(0.5, estimate.SecondsPerBoard("trained", DecodeStrategy.Speculative), 6);
        Assert.Equal(3.0, estimate.SecondsPerBoard("imperfect", DecodeStrategy.Speculative), 6);
        Assert.Equal(1.0, estimate.SecondsPerBoard("unmeasured", DecodeStrategy.Speculative), 6);
    }
}
