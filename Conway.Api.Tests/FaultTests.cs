using System.Net;
using System.Runtime.InteropServices;
using Conway.Api.Serving;
using Conway.Boards;
using static Conway.Api.Tests.Given;

namespace Conway.Api.Tests;

/// <summary>Engine faults: the circuit breaker, out-of-memory split-retry and the per-batch timeout.</summary>
public sealed class FaultTests
{
    [Fact]
    public async Task FailingEngine_OpensTheCircuit_Readiness503AndPredict503_ThenRecoversWhenTheCircuitCloses()
    {
        await using var api = new ApiFactory
        {
            Settings =
            {
                ["Model:MaxWaitMs"] = "0", ["Model:Breaker:MinimumThroughput"] = "2",
                ["Model:Breaker:FailureRatio"] = "0.5", ["Model:Breaker:BreakSeconds"] = "1",
            },
        };
        var client = await api.StartAsync();
        api.Predictor.Fault = _ => new InvalidOperationException("the engine is broken");

        for (int i = 0; i < 2; i++)
            Assert.Equal(HttpStatusCode.InternalServerError, (await client.PostAsync("/predict", Json(new { board = Glider.ToRows() }))).StatusCode);

        var unready = await client.GetAsync("/healthz/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, unready.StatusCode);
        Assert.Contains("circuit breaker", (string)(await BodyOf(unready))["checks"]!["model"]!["description"]!);
        var refused = await client.PostAsync("/predict", Json(new { board = Glider.ToRows() }));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(1), refused.Headers.RetryAfter?.Delta);
        Assert.Contains("circuit breaker", (string)(await BodyOf(refused))["detail"]!);
        Assert.Equal(2, api.Predictor.Calls.Count);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz/live")).StatusCode);

        api.Predictor.Fault = _ => null;
        await Eventually(() => api.ModelHost.Devices[0].State == ModelState.Ready && !IsOpen(api), "the break has passed");
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/predict", Json(new { board = Glider.ToRows() }))).StatusCode);
        var ready = await BodyOf(await client.GetAsync("/healthz/ready"));
        Assert.Equal("closed", (string)ready["checks"]!["model"]!["data"]!["circuit"]!);
    }

    private static bool IsOpen(ApiFactory api) => api.Services.GetRequiredService<PredictorResilience>().OpenFor > TimeSpan.Zero;

    [Fact]
    public async Task OutOfMemory_RetriesTheBatchSplitInHalves_UntilItFits()
    {
        await using var api = new ApiFactory();
        var client = await api.StartAsync();
        api.Predictor.Fault = boards => boards.Count > 2 ? new ExternalException("CUDA out of memory. Tried to allocate 2.00 GiB") : null;
        var boards = Enumerable.Range(0, 8).Select(i => Glider.Translate(i, 3 * i)).ToList();

        var response = await client.PostAsync("/predict/batch", Json(new { boards = boards.Select(board => board.ToRows()) }));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var results = (await BodyOf(response))["results"]!.AsArray();
        Assert.Equal(boards.Select(board => LifeRule.Step(board)), results.Select(result => Board.FromRows(result!["next"]!.AsArray().Select(row => (string?)row).ToList())));
        Assert.Equal([8, 4, 2, 2, 2, 2], api.Predictor.Calls.Select(call => call.Boards.Count));
        Assert.Equal(boards, api.Predictor.Calls.Skip(2).SelectMany(call => call.Boards));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz/ready")).StatusCode);
    }

    [Fact]
    public async Task OutOfMemoryOnOneBoard_IsNotRetriedForever_ButAnswered500()
    {
        await using var api = new ApiFactory();
        var client = await api.StartAsync();
        api.Predictor.Fault = _ => new ExternalException("DefaultCPUAllocator: not enough memory: you tried to allocate 9 GB");

        var response = await client.PostAsync("/predict/batch", Json(new { boards = new[] { Glider.ToRows(), Blinker.ToRows() } }));

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal([2, 1], api.Predictor.Calls.Select(call => call.Boards.Count));
        Assert.DoesNotContain("allocate", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task BatchPastItsTimeout_IsCancelledAndAnswered504()
    {
        await using var api = new ApiFactory { Settings = { ["Model:BatchTimeoutMs"] = "200" } };
        var client = await api.StartAsync();
        api.Predictor.Delay = TimeSpan.FromMilliseconds(300);

        var response = await client.PostAsync("/predict/batch", Json(new { boards = Enumerable.Repeat(Glider.ToRows(), 8) }));

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Contains("within its time limit", (string)(await BodyOf(response))["detail"]!);
        Assert.InRange(api.Predictor.Cancelled, 1, 7);
    }
}
