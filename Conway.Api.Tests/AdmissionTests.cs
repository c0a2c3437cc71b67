using System.Diagnostics;
using System.Net;
using Conway.Api.Serving;
using static Conway.Api.Tests.Given;

namespace Conway.Api.Tests;

/// <summary>
/// Admission by cost, with the test double (the exact rule, <see cref="RulePredictor.Delay"/> per board): the queue
/// counts boards, refuses at once what it predicts cannot meet its deadline, lets expired work go at once, and slices
/// big requests so that small ones share their batches.
/// </summary>
public sealed class AdmissionTests
{
    [Fact]
    public async Task RequestPredictedToMissItsDeadline_IsRefused429AtOnce_WithRetryAfterFromTheMeasuredSpeed()
    {
        await using var api = new ApiFactory { Settings = { ["Model:MaxWaitMs"] = "0", ["Model:MaxBatchBoards"] = "8" } };
        var client = await api.StartAsync();
        api.Predictor.Delay = TimeSpan.FromMilliseconds(250);
        // teach the estimate the model's speed (250 ms a board), then fill the queue ahead with 8 boards (~2 s)
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/predict/batch", Json(new { boards = Enumerable.Repeat(Glider.ToRows(), 4) }))).StatusCode);
        var ahead = client.PostAsync("/predict/batch", Json(new { boards = Enumerable.Repeat(Blinker.ToRows(), 8) }));
        await Eventually(() => api.Predictor.Calls.Count == 2, "the 8 boards are on the model");

        var clock = Stopwatch.StartNew();
        var request = new HttpRequestMessage(HttpMethod.Post, "/predict") { Content = Json(new { board = Block.ToRows(), deadlineMs = 500 }) };
        var refused = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"refused after {clock.Elapsed.TotalMilliseconds:F0} ms, not at once");
        Assert.Contains("after this request's deadline of 0.5 s", (string)(await BodyOf(refused))["detail"]!);
        Assert.InRange(refused.Headers.RetryAfter!.Delta!.Value, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3));   // ~2 s of work ahead
        Assert.DoesNotContain(api.Predictor.Calls, call => call.Boards.Contains(Block));
        Assert.Equal(HttpStatusCode.OK, (await ahead).StatusCode);
        Assert.Contains("conway_requests_refused_total{reason=\"deadline\"} 1", await (await client.GetAsync("/metrics")).Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ExpiredRequests_LeaveTheQueueAtOnce_FreeingTheirBoardsForOthers()
    {
        using var gate = new ManualResetEventSlim();
        await using var api = new ApiFactory { Settings = { ["Model:MaxWaitMs"] = "0", ["Model:QueueCapacity"] = "2", ["Model:MaxBatchBoards"] = "1" } };
        var client = await api.StartAsync();
        api.Predictor.Gate = gate;
        try
        {
            var held = client.PostAsync("/predict", Json(new { board = Glider.ToRows() }));
            await Eventually(() => api.Predictor.Calls.Count == 1, "one request holds the model");
            var expiring = Enumerable.Range(0, 2).Select(_ =>
                client.PostAsync("/predict", Json(new { board = Blinker.ToRows(), deadlineMs = 300 }))).ToList();
            await Eventually(() => api.ModelHost.QueuedBoards == 2, "the queue's two boards are taken");

            Assert.All(await Task.WhenAll(expiring), response => Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode));
            // gone at their deadline, not at the model (held at the gate throughout). The 504 and the queue's removal
            // are two callbacks of the request's token: the answer can reach the client a moment before the removal ran
            await Eventually(() => api.ModelHost.QueuedBoards == 0, "the expired requests' boards are freed", seconds: 1);
            var admitted = client.PostAsync("/predict", Json(new { board = Block.ToRows() }));
            await Eventually(() => api.ModelHost.QueuedBoards == 1, "a new request takes a freed board");
            gate.Set();
            Assert.Equal(HttpStatusCode.OK, (await admitted).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await held).StatusCode);
            Assert.DoesNotContain(api.Predictor.Calls, call => call.Boards.Contains(Blinker));
        }
        finally
        {
            gate.Set();
        }
    }

    [Fact]
    public async Task BigRequest_IsDecodedASliceAtATime_WithLaterSmallRequestsInItsBatches()
    {
        await using var api = new ApiFactory { Settings = { ["Model:MaxWaitMs"] = "100", ["Model:MaxBatchBoards"] = "4", ["Model:SliceBoards"] = "2" } };
        var client = await api.StartAsync();
        api.Predictor.Delay = TimeSpan.FromMilliseconds(50);
        var big = client.PostAsync("/predict/batch", Json(new { boards = Enumerable.Repeat(Glider.ToRows(), 8) }));
        await Task.Delay(20);
        var small = new[] { Blinker, Block }.Select(board => client.PostAsync("/predict", Json(new { board = board.ToRows() }))).ToList();

        Assert.All(await Task.WhenAll([big, .. small]), response => Assert.Equal(HttpStatusCode.OK, response.StatusCode));
        var calls = api.Predictor.Calls.ToList();
        Assert.All(calls, call => Assert.InRange(call.Boards.Count(Glider.Equals), 0, 4));
        // the small requests rode in the first batch or two, beside two of the big request's boards, not after all eight
        int smallDoneBy = calls.FindLastIndex(call => call.Boards.Contains(Blinker) || call.Boards.Contains(Block));
        Assert.InRange(smallDoneBy, 0, 1);
        Assert.Equal(8, calls.Sum(call => call.Boards.Count(Glider.Equals)));
        Assert.Equal(8, (await BodyOf(await big))["results"]!.AsArray().Count);
    }

    [Fact]
    public async Task WhileTheModelLoads_PredictionsGetA503WithRetryAfterAtOnce()
    {
        using var loading = new ManualResetEventSlim();
        var predictor = new RulePredictor();
        await using var api = new ApiFactory
        {
            Predictor = predictor,
            LoadModel = (_, _, _) =>
            {
                loading.Wait(TimeSpan.FromSeconds(30));
                return predictor;
            },
        };
        var client = api.CreateClient();
        try
        {
            var clock = Stopwatch.StartNew();
            var response = await client.PostAsync("/predict", Json(new { board = Glider.ToRows() }));

            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"answered after {clock.Elapsed.TotalSeconds:F1} s");
            Assert.Contains("still loading", (string)(await BodyOf(response))["detail"]!);
            Assert.NotNull(response.Headers.RetryAfter?.Delta);
        }
        finally
        {
            loading.Set();
        }
    }
}
