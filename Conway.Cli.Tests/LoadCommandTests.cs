using System.Net;
using Conway.Cli.Commands;

namespace Conway.Cli.Tests;

/// <summary>What <c>conway load</c> reads of the service's own timing: the <c>Server-Timing</c> header its answers carry.</summary>
public sealed class LoadCommandTests
{
    [Fact]
    public void ServerTiming_ReadsTheServicesQueueInferenceAndTotal()
    {
        using var response = new HttpResponseMessage(HttpStatusCode.OK);
        response.Headers.TryAddWithoutValidation("Server-Timing", "queue;dur=0.1, inference;dur=1.3, total;dur=1.7");

        Assert.Equal(new LoadCommand.ServerTiming(0.1, 1.3, 1.7), LoadCommand.ServerTiming.Of(response));
    }

    [Fact]
    public void ServerTiming_IsNaN_WhereTheHeaderOrAMetricIsMissing()
    {
        using var none = new HttpResponseMessage(HttpStatusCode.OK);
        using var partial = new HttpResponseMessage(HttpStatusCode.OK);
        partial.Headers.TryAddWithoutValidation("Server-Timing", "inference;dur=2.5, total;dur=x");

        var missing = LoadCommand.ServerTiming.Of(none);
        var some = LoadCommand.ServerTiming.Of(partial);

        Assert.True(double.IsNaN(missing.Queue) && double.IsNaN(missing.Inference) && double.IsNaN(missing.Total));
        Assert.True(double.IsNaN(some.Queue) && double.IsNaN(some.Total));
        Assert.Equal(2.5, some.Inference);
    }
}
