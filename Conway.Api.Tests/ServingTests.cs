using System.Net;
using Conway.Decoding;
using static Conway.Api.Tests.Given;

namespace Conway.Api.Tests;

/// <summary>The model host and its device workers: batching, grouping by options, devices, back-pressure, deadlines and cancellation.</summary>
public sealed class ServingTests
{
    [Fact]
    public async Task ConcurrentRequests_AreServedByFewerModelCallsThanRequests()
    {
        await using var api = new ApiFactory { Settings = { ["Model:MaxWaitMs"] = "50" } };
        var client = await api.StartAsync();

        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => client.PostAsync("/predict", Json(new { board = Glider.ToRows() }))));

        Assert.All(responses, response => Assert.Equal(HttpStatusCode.OK, response.StatusCode));
        Assert.InRange(api.Predictor.Calls.Count, 1, 19);
        Assert.Equal(20, api.Predictor.Calls.Sum(call => call.Boards.Count));
    }

    [Fact]
    public async Task QueuedRequestsWithDifferentOptions_GoToTheModelAsSeparateCalls_AndEachSeededSampleAlone()
    {
        using var gate = new ManualResetEventSlim();
        await using var api = new ApiFactory { Settings = { ["Model:MaxWaitMs"] = "0" } };
        var client = await api.StartAsync();
        try
        {
            var first = await HoldTheModel(api, client, gate);
            var queued = new[]
            {
                client.PostAsync("/predict", Json(new { board = Glider.ToRows() })),
                client.PostAsync("/predict", Json(new { board = Blinker.ToRows(), temperature = 0.5, seed = 7 })),
                client.PostAsync("/predict", Json(new { board = Block.ToRows() })),
                client.PostAsync("/predict", Json(new { board = Glider.ToRows(), temperature = 0.5, seed = 7 })),
            };
            await Eventually(() => api.ModelHost.QueueLength == 4, "four requests are queued");
            gate.Set();

            Assert.All(await Task.WhenAll([first, .. queued]), response => Assert.Equal(HttpStatusCode.OK, response.StatusCode));
            var calls = api.Predictor.Calls.Skip(1).ToList();
            // greedy requests share a call; a seeded sample is decoded alone, so its random streams are its own
            Assert.Equal(3, calls.Count);
            Assert.Contains(calls, call => call.Options == DecodeOptions.Greedy && call.Boards.ToHashSet().SetEquals([Glider, Block]));
            Assert.Contains(calls, call => call.Options == new DecodeOptions { Temperature = 0.5f, Seed = 7 } && call.Boards.SequenceEqual([Blinker]));
            Assert.Contains(calls, call => call.Options == new DecodeOptions { Temperature = 0.5f, Seed = 7 } && call.Boards.SequenceEqual([Glider]));
        }
        finally
        {
            gate.Set();
        }
    }

    [Fact]
    public async Task TwoCpuWorkers_EachLoadTheirOwnModelOnTheirOwnThread_AndServeAtOnce()
    {
        using var gate = new ManualResetEventSlim();
        var loadedOn = new System.Collections.Concurrent.ConcurrentQueue<(string Device, int Thread)>();
        var predictor = new RulePredictor();
        await using var api = new ApiFactory
        {
            Predictor = predictor,
            LoadModel = (_, _, device) =>
            {
                loadedOn.Enqueue((device, Environment.CurrentManagedThreadId));
                return predictor;
            },
            Settings = { ["Model:Devices"] = "cpu, cpu", ["Model:MaxWaitMs"] = "0", ["Model:MaxBatchBoards"] = "1" },
        };
        var client = await api.StartAsync();
        Assert.Equal(2, api.ModelHost.Devices.Count);
        Assert.Equal(2, loadedOn.Select(load => load.Thread).Distinct().Count());
        Assert.All(loadedOn, load => Assert.Equal("cpu", load.Device));
        predictor.Gate = gate;
        try
        {
            var first = client.PostAsync("/predict", Json(new { board = Glider.ToRows() }));
            var second = client.PostAsync("/predict", Json(new { board = Blinker.ToRows() }));

            await Eventually(() => predictor.Calls.Count == 2, "both requests are in a model at once, one per worker");
            gate.Set();

            Assert.Equal(HttpStatusCode.OK, (await first).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await second).StatusCode);
            Assert.Equal(2, predictor.Calls.Select(call => call.Thread).Distinct().Count());
        }
        finally
        {
            gate.Set();
        }
    }

    [Fact]
    public async Task FullQueue_Answers429WithRetryAfterAtOnce()
    {
        using var gate = new ManualResetEventSlim();
        await using var api = new ApiFactory
        {
            Settings = { ["Model:QueueCapacity"] = "2", ["Model:MaxWaitMs"] = "0", ["Model:MaxBatchBoards"] = "1" },
        };
        var client = await api.StartAsync();
        try
        {
            var first = await HoldTheModel(api, client, gate);

            var more = Enumerable.Range(0, 5).Select(_ => client.PostAsync("/predict", Json(new { board = Glider.ToRows() }))).ToList();
            await Eventually(() => more.Count(task => task.IsCompleted) == 3, "three requests are answered while the model is busy");

            foreach (var rejected in more.Where(task => task.IsCompleted).Select(task => task.Result))
            {
                Assert.Equal(HttpStatusCode.TooManyRequests, rejected.StatusCode);
                Assert.Equal(TimeSpan.FromSeconds(1), rejected.Headers.RetryAfter?.Delta);
                Assert.Equal("application/problem+json", rejected.Content.Headers.ContentType?.MediaType);
                var problem = await BodyOf(rejected);
                Assert.Equal(429, (int)problem["status"]!);
                Assert.Equal("Too Many Requests", (string)problem["title"]!);
                Assert.Contains("queue is full: 2 of its 2 boards are waiting", (string)problem["detail"]!);
            }
            gate.Set();
            Assert.All(await Task.WhenAll(more.Where(task => !task.IsCompleted).Append(first)),
                response => Assert.Equal(HttpStatusCode.OK, response.StatusCode));
        }
        finally
        {
            gate.Set();
        }
    }

    [Fact]
    public async Task RequestAbortedBeforeItsBatchStarts_IsDroppedFromTheBatch()
    {
        using var gate = new ManualResetEventSlim();
        await using var api = new ApiFactory { Settings = { ["Model:MaxWaitMs"] = "0" } };
        var client = await api.StartAsync();
        try
        {
            var first = await HoldTheModel(api, client, gate);
            using var abort = new CancellationTokenSource();
            var abandoned = client.PostAsync("/predict", Json(new { board = Blinker.ToRows() }), abort.Token);
            var kept = client.PostAsync("/predict", Json(new { board = Block.ToRows() }));
            await Eventually(() => api.ModelHost.QueueLength == 2, "two requests are queued");

            abort.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);
            gate.Set();

            Assert.Equal(HttpStatusCode.OK, (await kept).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await first).StatusCode);
            Assert.Equal([Block], api.Predictor.Calls.Skip(1).Single().Boards);
            Assert.Empty(api.Logs.AtLeast(LogLevel.Error));
        }
        finally
        {
            gate.Set();
        }
    }

    [Fact]
    public async Task ClientThatLeavesDuringItsBatch_StopsTheModelBetweenDecodeSteps()
    {
        await using var api = new ApiFactory();
        var client = await api.StartAsync();
        api.Predictor.Delay = TimeSpan.FromMilliseconds(500);   // 4 s for the batch: a busy machine still aborts it part-way
        using var abort = new CancellationTokenSource();

        var abandoned = client.PostAsync("/predict/batch", Json(new { boards = Enumerable.Repeat(Glider.ToRows(), 8) }), abort.Token);
        await Eventually(() => api.Predictor.Calls.Count == 1, "the batch is in the model");
        await Task.Delay(150);
        abort.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);
        await Eventually(() => api.Logs.AtLeast(LogLevel.Information).Any(entry => entry.Message.StartsWith("Stopped a batch of 8 boards")),
            "the model stopped part-way");
        Assert.InRange(api.Predictor.Cancelled, 1, 7);
    }

    [Fact]
    public async Task ExpiredRequest_IsAnswered504AtItsDeadline_AndDroppedBeforeItReachesTheModel()
    {
        using var gate = new ManualResetEventSlim();
        await using var api = new ApiFactory { Settings = { ["Model:MaxWaitMs"] = "0" } };
        var client = await api.StartAsync();
        try
        {
            var first = await HoldTheModel(api, client, gate);
            var request = new HttpRequestMessage(HttpMethod.Post, "/predict") { Content = Json(new { board = Blinker.ToRows() }) };
            request.Headers.Add("X-Deadline-Ms", "200");

            var expired = await client.SendAsync(request);

            Assert.Equal(HttpStatusCode.GatewayTimeout, expired.StatusCode);
            Assert.Equal("application/problem+json", expired.Content.Headers.ContentType?.MediaType);
            Assert.Contains("deadline of 200 ms passed", (string)(await BodyOf(expired))["detail"]!);
            gate.Set();
            Assert.Equal(HttpStatusCode.OK, (await first).StatusCode);
            await Eventually(() => api.ModelHost.QueueLength == 0, "the queue is empty");
            Assert.DoesNotContain(api.Predictor.Calls, call => call.Boards.Contains(Blinker));
        }
        finally
        {
            gate.Set();
        }
    }

    [Theory]
    [InlineData(null, 150, "deadline of 150 ms")]
    [InlineData("300", 150, "deadline of 150 ms")]
    [InlineData("150", 100000, "deadline of 150 ms")]
    [InlineData(null, 100000, "deadline of 250 ms")]
    public async Task Deadline_IsTheEarlierOfHeaderAndBody_CappedByMaxDeadlineMs(string? header, int bodyMs, string expected)
    {
        using var gate = new ManualResetEventSlim();
        await using var api = new ApiFactory { Settings = { ["Model:MaxDeadlineMs"] = "250" } };
        var client = await api.StartAsync();
        api.Predictor.Gate = gate; // the model answers only after the deadline, however late its timer fires
        try
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/predict") { Content = Json(new { board = Glider.ToRows(), deadlineMs = bodyMs }) };
            if (header is not null) request.Headers.Add("X-Deadline-Ms", header);

            var response = await client.SendAsync(request);

            Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
            Assert.Contains(expected, (string)(await BodyOf(response))["detail"]!);
        }
        finally
        {
            gate.Set();
        }
    }

    /// <summary>Sends a glider that the test double holds in the model until <paramref name="gate"/> opens, so later requests queue.</summary>
    private static async Task<Task<HttpResponseMessage>> HoldTheModel(ApiFactory api, HttpClient client, ManualResetEventSlim gate)
    {
        api.Predictor.Gate = gate;
        var first = client.PostAsync("/predict", Json(new { board = Glider.ToRows() }));
        await Eventually(() => api.Predictor.Calls.Count == 1, "the first request is in the model");
        return first;
    }
}
