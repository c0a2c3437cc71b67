using System.Net;
using Conway.Decoding;
using static Conway.Api.Tests.Given;

namespace Conway.Api.Tests;

/// <summary>The model worker: batching, grouping by options, back-pressure and dropping abandoned requests.</summary>
public sealed class ServingTests
{
    [Fact]
    public async Task ConcurrentRequests_AreServedByFewerModelCallsThanRequests()
    {
        await using var api = new ApiFactory { Settings = { ["Model:MaxWaitMs"] = "50" } };
        var client = api.CreateClient();

        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => client.PostAsync("/predict", Json(new { board = Glider.ToRows() }))));

        Assert.All(responses, response => Assert.Equal(HttpStatusCode.OK, response.StatusCode));
        Assert.InRange(api.Predictor.Calls.Count, 1, 19);
        Assert.Equal(20, api.Predictor.Calls.Sum(call => call.Boards.Count));
    }

    [Fact]
    public async Task QueuedRequestsWithDifferentOptions_GoToTheModelAsSeparateCalls()
    {
        using var gate = new ManualResetEventSlim();
        await using var api = new ApiFactory { Predictor = new RulePredictor(gate: gate), Settings = { ["Model:MaxWaitMs"] = "0" } };
        var client = api.CreateClient();
        try
        {
            var first = client.PostAsync("/predict", Json(new { board = Glider.ToRows() }));
            await Eventually(() => api.Predictor.Calls.Count == 1, "the first request is in the model");
            var queued = new[]
            {
                client.PostAsync("/predict", Json(new { board = Glider.ToRows() })),
                client.PostAsync("/predict", Json(new { board = Blinker.ToRows(), temperature = 0.5, seed = 7 })),
                client.PostAsync("/predict", Json(new { board = Block.ToRows() })),
                client.PostAsync("/predict", Json(new { board = Glider.ToRows(), temperature = 0.5, seed = 7 })),
            };
            await Eventually(() => api.Worker.QueueLength == 4, "four requests are queued");
            gate.Set();

            Assert.All(await Task.WhenAll([first, .. queued]), response => Assert.Equal(HttpStatusCode.OK, response.StatusCode));
            var calls = api.Predictor.Calls.Skip(1).ToList();
            Assert.Equal(2, calls.Count);
            Assert.Contains(calls, call => call.Options == DecodeOptions.Greedy && call.Boards.ToHashSet().SetEquals([Glider, Block]));
            Assert.Contains(calls, call => call.Options == new DecodeOptions { Temperature = 0.5f, Seed = 7 } && call.Boards.ToHashSet().SetEquals([Blinker, Glider]));
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
            Predictor = new RulePredictor(gate: gate),
            Settings = { ["Model:QueueCapacity"] = "2", ["Model:MaxWaitMs"] = "0", ["Model:MaxBatchBoards"] = "1" },
        };
        var client = api.CreateClient();
        try
        {
            var first = client.PostAsync("/predict", Json(new { board = Glider.ToRows() }));
            await Eventually(() => api.Predictor.Calls.Count == 1, "the first request is in the model");

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
                Assert.Contains("queue is full (2 requests waiting)", (string)problem["detail"]!);
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
        await using var api = new ApiFactory { Predictor = new RulePredictor(gate: gate), Settings = { ["Model:MaxWaitMs"] = "0" } };
        var client = api.CreateClient();
        try
        {
            var first = client.PostAsync("/predict", Json(new { board = Glider.ToRows() }));
            await Eventually(() => api.Predictor.Calls.Count == 1, "the first request is in the model");
            using var abort = new CancellationTokenSource();
            var abandoned = client.PostAsync("/predict", Json(new { board = Blinker.ToRows() }), abort.Token);
            var kept = client.PostAsync("/predict", Json(new { board = Block.ToRows() }));
            await Eventually(() => api.Worker.QueueLength == 2, "two requests are queued");

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
}
