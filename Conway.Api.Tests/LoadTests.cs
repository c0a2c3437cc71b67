using System.Diagnostics;
using System.Net;
using Conway.Boards;
using Xunit.Abstractions;
using static Conway.Api.Tests.Given;

namespace Conway.Api.Tests;

/// <summary>Overload against a real Kestrel socket on 127.0.0.1: bounded, seeded, and finishing on its own.</summary>
public sealed class LoadTests(ITestOutputHelper output)
{
    private const int QueueCapacity = 8;
    private const int Requests = 25 * QueueCapacity;

    [Fact]
    public async Task BurstOf25TimesTheQueue_OnLoopbackKestrel_AcceptedAreExactTheRestAre429_NoneLostNo5xx()
    {
        await using var api = new ApiFactory
        {
            Settings =
            {
                ["Model:Devices"] = "cpu,cpu", ["Model:QueueCapacity"] = $"{QueueCapacity}",
                ["Model:MaxBatchBoards"] = "4", ["Model:MaxWaitMs"] = "1",
            },
        }.OnLoopback();
        await api.StartAsync();
        api.Predictor.Delay = TimeSpan.FromMilliseconds(5);
        using var client = api.CreateLoopbackClient();
        Assert.Equal("127.0.0.1", client.BaseAddress!.Host);
        var random = new Random(20251128);
        var boards = Enumerable.Range(0, Requests).Select(_ => Board.Random(0.35, random)).ToList();

        var clock = Stopwatch.StartNew();
        var answers = await Task.WhenAll(boards.Select(async board =>
        {
            var sent = Stopwatch.StartNew();
            var response = await client.PostAsync("/predict", Json(new { board = board.ToRows() }));
            var body = await BodyOf(response);
            return (Board: board, response.StatusCode, Body: body, Ms: sent.Elapsed.TotalMilliseconds);
        })).WaitAsync(TimeSpan.FromSeconds(60));
        var wall = clock.Elapsed;

        var accepted = answers.Where(answer => answer.StatusCode == HttpStatusCode.OK).ToList();
        var rejected = answers.Where(answer => answer.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        Assert.Equal(Requests, accepted.Count + rejected.Count);
        Assert.All(accepted, answer => Assert.Equal(LifeRule.Step(answer.Board),
            Board.FromRows(answer.Body["next"]!.AsArray().Select(row => (string?)row).ToList())));
        Assert.All(rejected, answer => Assert.Equal(429, (int)answer.Body["status"]!));
        Assert.InRange(accepted.Count, QueueCapacity, Requests - 1);
        Assert.Equal(accepted.Count, api.Predictor.Calls.Sum(call => call.Boards.Count));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz/ready")).StatusCode);
        Assert.Empty(api.Logs.AtLeast(LogLevel.Error));

        var latencies = accepted.Select(answer => answer.Ms).Order().ToList();
        output.WriteLine($"{Requests} requests in {wall.TotalMilliseconds:F0} ms: {accepted.Count} answered 200 (all exact), " +
            $"{rejected.Count} answered 429, 0 other; 200 latency p50 {latencies[latencies.Count / 2]:F0} ms, " +
            $"max {latencies[^1]:F0} ms; {api.Predictor.Calls.Count} model calls");
    }
}
