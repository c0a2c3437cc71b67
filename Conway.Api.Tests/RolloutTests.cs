using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Conway.Api.Serving;
using Conway.Boards;
using Conway.Decoding;
using static Conway.Api.Tests.Given;

namespace Conway.Api.Tests;

/// <summary>Reads a rollout's stream a line at a time, as the client sees it arrive.</summary>
internal sealed class RolloutReader(HttpResponseMessage response) : IDisposable
{
    private StreamReader? _reader;

    public HttpResponseMessage Response { get; } = response;

    public static async Task<RolloutReader> PostAsync(HttpClient client, object body, string? accept = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/rollout") { Content = Json(body) };
        if (accept is not null) request.Headers.Accept.Add(MediaTypeWithQualityHeaderValue.Parse(accept));
        return new RolloutReader(await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead));
    }

    /// <summary>The next NDJSON line as JSON; null at the end of the stream.</summary>
    public async Task<JsonNode?> NextAsync()
    {
        _reader ??= new StreamReader(await Response.Content.ReadAsStreamAsync());
        return await _reader.ReadLineAsync() is { } line ? JsonNode.Parse(line) : null;
    }

    /// <summary>Every line left, to the end of the stream.</summary>
    public async Task<List<JsonNode>> RestAsync()
    {
        var lines = new List<JsonNode>();
        while (await NextAsync() is { } line) lines.Add(line);
        return lines;
    }

    public void Dispose() => Response.Dispose();
}

/// <summary><c>POST /rollout</c> with the <see cref="RulePredictor"/> double: validation, framing, streaming, feeds, batching, limits and endings.</summary>
public sealed class RolloutTests : IAsyncLifetime
{
    private readonly ApiFactory _api = new() { Settings = { ["Model:MaxRolloutSteps"] = "50" } };
    private HttpClient _client = null!;

    public async Task InitializeAsync() => _client = await _api.StartAsync();

    public async Task DisposeAsync() => await _api.DisposeAsync();

    private static readonly string[] BlinkerRows = Blinker.ToRows();

    /// <summary>A blinker's two phases, and a block that a "mistaken" model adds far from it.</summary>
    private static readonly Board Vertical = LifeRule.Step(Blinker);

    private static Board WithBlock(Board board) => board.With(20, 20, true).With(20, 21, true).With(21, 20, true).With(21, 21, true);

    private static string[] Rows(JsonNode line, string name) => [.. line[name]!.AsArray().Select(row => (string)row!)];

    [Theory]
    [InlineData("steps", """{"board": null, "rle": "o!", "steps": 0}""")]
    [InlineData("steps", """{"rle": "o!", "steps": 51}""")]
    [InlineData("steps", """{"rle": "o!"}""")]
    [InlineData("feed", """{"rle": "o!", "steps": 3, "feed": "teacher"}""")]
    [InlineData("board", """{"board": ["01"], "steps": 3}""")]
    [InlineData("$", """{"rle": "o!", "cells": "O", "steps": 3}""")]
    [InlineData("topK", """{"rle": "o!", "steps": 3, "topK": 0}""")]
    public async Task InvalidRollout_Is400NamingTheField_BeforeAnyLine(string field, string body)
    {
        var response = await _client.PostAsync("/rollout", Json(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.True((await BodyOf(response))["errors"]![field] is not null, await response.Content.ReadAsStringAsync());
        Assert.Empty(_api.Predictor.Calls);
    }

    [Fact]
    public async Task UnacceptableAccept_Is406ProblemDetails_AndNothingRuns()
    {
        using var rollout = await RolloutReader.PostAsync(_client, new { board = BlinkerRows, steps = 3 }, accept: "text/html");

        Assert.Equal(HttpStatusCode.NotAcceptable, rollout.Response.StatusCode);
        var problem = await BodyOf(rollout.Response);
        Assert.Contains("application/x-ndjson", (string)problem["detail"]!);
        Assert.Equal(rollout.Response.Headers.GetValues("X-Request-Id").Single(), (string)problem["requestId"]!);
        Assert.NotNull(problem["traceId"]);
        Assert.Empty(_api.Predictor.Calls);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("*/*")]
    [InlineData("application/x-ndjson")]
    public async Task Ndjson_OneGenerationALine_ThenTheEndLine(string? accept)
    {
        using var rollout = await RolloutReader.PostAsync(_client, new { rle = "x = 3, y = 3\nbo$2bo$3o!", steps = 3 }, accept);

        Assert.Equal(HttpStatusCode.OK, rollout.Response.StatusCode);
        Assert.Equal("application/x-ndjson", rollout.Response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("no-cache", rollout.Response.Headers.CacheControl?.ToString());
        Assert.Equal("no", rollout.Response.Headers.GetValues("X-Accel-Buffering").Single());
        var lines = await rollout.RestAsync();
        Assert.Equal(4, lines.Count);
        for (int step = 1; step <= 3; step++)
        {
            var line = lines[step - 1];
            Assert.Equal("generation", (string)line["type"]!);
            Assert.Equal(step, (int)line["step"]!);
            Assert.Equal(LifeRule.Step(Glider, step).ToRows(), Rows(line, "board"));
            Assert.Equal(LifeRule.Step(Glider, step).ToRows(), Rows(line, "rule"));
            Assert.True((bool)line["matchesRule"]!);
            Assert.Empty(line["mismatches"]!.AsArray());
            Assert.Null(line["firstDivergence"]);
        }
        Assert.Equal("""{"type":"end","reason":"completed","steps":3,"firstDivergence":null}""", lines[3].ToJsonString());
    }

    [Fact]
    public async Task EventStream_FramesEachLineAsAnEvent_GenerationsThenEnd()
    {
        using var rollout = await RolloutReader.PostAsync(_client, new { board = BlinkerRows, steps = 2 }, accept: "text/event-stream");

        Assert.Equal(HttpStatusCode.OK, rollout.Response.StatusCode);
        Assert.Equal("text/event-stream", rollout.Response.Content.Headers.ContentType?.MediaType);
        string body = await rollout.Response.Content.ReadAsStringAsync();
        var events = body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, events.Length);
        Assert.EndsWith("\n\n", body);
        foreach (var (frame, i) in events.Select((frame, i) => (frame, i)))
        {
            var fields = frame.Split('\n');
            Assert.Equal(2, fields.Length);
            string name = i < 2 ? "generation" : "end";
            Assert.Equal($"event: {name}", fields[0]);
            Assert.StartsWith("data: {", fields[1]);
            var data = JsonNode.Parse(fields[1]["data: ".Length..])!;
            Assert.Equal(name, (string)data["type"]!);
            if (i < 2) Assert.Equal(LifeRule.Step(Blinker, i + 1).ToRows(), Rows(data, "board"));
        }
    }

    [Fact]
    public async Task Lines_AreStreamedAsProduced_TheFirstArrivesWhileTheModelIsBlockedOnTheSecond()
    {
        using var second = new ManualResetEventSlim();
        int calls = 0;
        _api.Predictor.Fault = _ =>
        {
            if (Interlocked.Increment(ref calls) == 2) second.Wait(TimeSpan.FromSeconds(30));
            return null;
        };
        try
        {
            using var rollout = await RolloutReader.PostAsync(_client, new { board = BlinkerRows, steps = 3 });

            var first = await rollout.NextAsync().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(1, (int)first!["step"]!);
            await Eventually(() => Volatile.Read(ref calls) == 2, "the second generation is on the model, held there");
            var next = rollout.NextAsync();
            await Task.Delay(200);
            Assert.False(next.IsCompleted);
            second.Set();
            Assert.Equal(2, (int)(await next)!["step"]!);
            Assert.Equal(["generation", "end"], (await rollout.RestAsync()).Select(line => (string)line["type"]!));
        }
        finally
        {
            second.Set();
        }
    }

    [Fact]
    public async Task Feeds_AModelThatErrsOnTheVerticalBlinker_DivergesAtStep2_TheErrorCompoundsOnlyWhenFedItsOwnOutput()
    {
        // the "model" adds a block whenever it steps the vertical blinker, and otherwise steps exactly
        _api.Predictor.Step = board => board.Equals(Vertical) ? WithBlock(LifeRule.Step(board)) : LifeRule.Step(board);

        using var model = await RolloutReader.PostAsync(_client, new { board = BlinkerRows, steps = 4, feed = "model" });
        var byModel = await model.RestAsync();
        using var rule = await RolloutReader.PostAsync(_client, new { board = BlinkerRows, steps = 4, feed = "rule" });
        var byRule = await rule.RestAsync();

        // fed its own output, the block stays: every generation from 2 on differs from the rule by its 4 cells
        Assert.Equal([true, false, false, false], byModel.Take(4).Select(line => (bool)line["matchesRule"]!));
        Assert.Equal([null, 2, 2, 2], byModel.Take(4).Select(line => (int?)line["firstDivergence"]));
        Assert.Equal(WithBlock(Blinker).ToRows(), Rows(byModel[3], "board"));
        Assert.Equal(Blinker.ToRows(), Rows(byModel[3], "rule"));
        Assert.Equal("""[[20,20],[20,21],[21,20],[21,21]]""", byModel[3]["mismatches"]!.ToJsonString());
        // fed the rule's states, each generation is one step from the true trajectory: wrong only from the vertical phase
        Assert.Equal([true, false, true, false], byRule.Take(4).Select(line => (bool)line["matchesRule"]!));
        Assert.Equal([null, 2, 2, 2], byRule.Take(4).Select(line => (int?)line["firstDivergence"]));
        Assert.Equal(Vertical.ToRows(), Rows(byRule[2], "board"));
        foreach (var end in new[] { byModel[4], byRule[4] })
            Assert.Equal("""{"type":"end","reason":"completed","steps":4,"firstDivergence":2}""", end.ToJsonString());
    }

    [Fact]
    public async Task ConcurrentRollouts_TheirGenerationsAreBatchedTogetherOnTheModel()
    {
        _api.Predictor.Delay = TimeSpan.FromMilliseconds(20);   // while one batch runs, the other rollouts' generations queue

        var rollouts = await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            using var rollout = await RolloutReader.PostAsync(_client, new { board = BlinkerRows, steps = 10 });
            return await rollout.RestAsync();
        }));

        Assert.All(rollouts, lines => Assert.Equal("""{"type":"end","reason":"completed","steps":10,"firstDivergence":null}""", lines[^1].ToJsonString()));
        Assert.Equal(40, _api.Predictor.Calls.Sum(call => call.Boards.Count));
        Assert.Contains(_api.Predictor.Calls, call => call.Boards.Count > 1);
        Assert.True(_api.Predictor.Calls.Count < 40, $"{_api.Predictor.Calls.Count} model calls for 40 generations");
    }

    [Fact]
    public async Task DeadlinePassing_EndsTheStreamWithADeadlineLineAndA504Problem()
    {
        _api.Predictor.Delay = TimeSpan.FromMilliseconds(100);

        using var rollout = await RolloutReader.PostAsync(_client, new { board = BlinkerRows, steps = 50, deadlineMs = 450 });
        var lines = await rollout.RestAsync();

        Assert.Equal(HttpStatusCode.OK, rollout.Response.StatusCode);
        var end = lines[^1];
        Assert.Equal("deadline", (string)end["reason"]!);
        Assert.InRange((int)end["steps"]!, 1, 5);
        Assert.Equal(lines.Count - 1, (int)end["steps"]!);
        Assert.Equal(504, (int)end["problem"]!["status"]!);
        Assert.Equal("The deadline of 450 ms passed before the model answered.", (string)end["problem"]!["detail"]!);
        Assert.NotNull(end["problem"]!["requestId"]);
        Assert.NotNull(end["problem"]!["traceId"]);
    }

    [Fact]
    public async Task ShuttingDown_EndsARunningRolloutWithAShutdownLineAndA503Problem()
    {
        using var held = new ManualResetEventSlim();
        _api.Predictor.Gate = held;
        try
        {
            using var rollout = await RolloutReader.PostAsync(_client, new { board = BlinkerRows, steps = 50 });
            await Eventually(() => _api.Predictor.Calls.Count == 1, "the first generation is on the model");

            _api.ModelHost.StopAdmitting();   // what ApplicationStopping (SIGTERM) triggers
            held.Set();
            var lines = await rollout.RestAsync();

            Assert.Equal(2, lines.Count);
            Assert.Equal("generation", (string)lines[0]["type"]!);
            Assert.Equal("shutdown", (string)lines[1]["reason"]!);
            Assert.Equal(1, (int)lines[1]["steps"]!);
            Assert.Equal(503, (int)lines[1]["problem"]!["status"]!);
            Assert.Contains("shutting down", (string)lines[1]["problem"]!["detail"]!);
        }
        finally
        {
            held.Set();
        }
    }

    [Fact]
    public async Task BeyondMaxRollouts_Is429WithRetryAfter_BeforeAnyLine()
    {
        using var held = new ManualResetEventSlim();
        await using var api = new ApiFactory { Settings = { ["Model:MaxRollouts"] = "1" } };
        var client = await api.StartAsync();
        api.Predictor.Gate = held;
        try
        {
            using var running = await RolloutReader.PostAsync(client, new { board = BlinkerRows, steps = 3 });
            Assert.Equal(HttpStatusCode.OK, running.Response.StatusCode);

            var refused = await client.PostAsync("/rollout", Json(new { board = BlinkerRows, steps = 3 }));

            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            Assert.True(refused.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
            Assert.Contains("Model:MaxRollouts", (string)(await BodyOf(refused))["detail"]!);
            held.Set();
            Assert.Equal("completed", (string)(await running.RestAsync())[^1]["reason"]!);
            Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/rollout", Json(new { board = BlinkerRows, steps = 1 }))).StatusCode);
        }
        finally
        {
            held.Set();
        }
    }

    [Fact]
    public async Task FullQueue_RefusesANewRollout429_ButAdmitsALaterGenerationOfAnAdmittedOne()
    {
        using var held = new ManualResetEventSlim();
        await using var api = new ApiFactory { Settings = { ["Model:QueueCapacity"] = "1" } };
        var client = await api.StartAsync();
        api.Predictor.Gate = held;
        try
        {
            using var running = await RolloutReader.PostAsync(client, new { board = BlinkerRows, steps = 3 });
            await Eventually(() => api.Predictor.Calls.Count == 1, "the rollout's first generation is on the model");
            var queued = client.PostAsync("/predict", Json(new { board = BlinkerRows }));
            await Eventually(() => api.ModelHost.QueuedBoards == 1, "a prediction fills the queue");

            var refused = await client.PostAsync("/rollout", Json(new { board = BlinkerRows, steps = 3 }));
            var deadline = Stopwatch.GetTimestamp() + 30 * Stopwatch.Frequency;
            var fresh = api.ModelHost.Submit([Blinker], null, new DecodeOptions(), "fresh", deadline, CancellationToken.None);
            var continuing = api.ModelHost.Submit([Blinker], null, new DecodeOptions(), "continuing", deadline, CancellationToken.None, continuing: true);

            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            Assert.NotNull(refused.Headers.RetryAfter);
            await Assert.ThrowsAsync<ModelBusyException>(() => fresh);
            Assert.False(continuing.IsCompleted);
            Assert.Equal(2, api.ModelHost.QueuedBoards);   // over the capacity of 1: a rollout's generation is never refused for a full queue
            held.Set();
            Assert.Equal(LifeRule.Step(Blinker), (await continuing).Predictions[0].Next);
            Assert.Equal("completed", (string)(await running.RestAsync())[^1]["reason"]!);
            Assert.Equal(HttpStatusCode.OK, (await queued).StatusCode);
        }
        finally
        {
            held.Set();
        }
    }
}

/// <summary>Rollouts over a real Kestrel socket: a client that leaves stops its rollout.</summary>
public sealed class RolloutDisconnectTests
{
    [Fact]
    public async Task ClientLeaving_StopsItsRollout_NothingMoreIsPredicted_AndTheMetricAndLogSaySo()
    {
        await using var api = new ApiFactory().OnLoopback();
        await api.StartAsync();
        using var client = api.CreateLoopbackClient();
        api.Predictor.Delay = TimeSpan.FromMilliseconds(20);

        var rollout = await RolloutReader.PostAsync(client, new { board = Blinker.ToRows(), steps = 1000 });
        Assert.NotNull(await rollout.NextAsync());
        Assert.NotNull(await rollout.NextAsync());
        rollout.Dispose();

        var rollouts = api.Services.GetRequiredService<RolloutService>();
        await Eventually(() => rollouts.Running == 0, "the rollout stopped");
        int calls = api.Predictor.Calls.Count;
        await Task.Delay(300);
        Assert.Equal(calls, api.Predictor.Calls.Count);
        Assert.InRange(calls, 2, 100);
        Assert.Contains(api.Logs.AtLeast(LogLevel.Information), entry => entry.Message.StartsWith("Rollout ") && entry.Message.Contains("stopped: the client left after"));
        string metrics = await client.GetStringAsync("/metrics");
        Assert.Contains("conway_rollouts_ended_total{reason=\"client_gone\"} 1", metrics);
        Assert.Contains("conway_rollouts_active 0", metrics);
        Assert.Matches(@"conway_rollout_generations_total \d+", metrics);
    }
}
