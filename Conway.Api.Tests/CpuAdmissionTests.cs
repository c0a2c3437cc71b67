using System.Diagnostics;
using System.Net;
using Conway.Api.Serving;
using Conway.Boards;
using Microsoft.Extensions.Options;
using Xunit.Abstractions;
using static Conway.Api.Tests.Given;

namespace Conway.Api.Tests;

/// <summary>
/// Admission by cost with the shipped model on this CPU, on a real Kestrel socket, with the CPU defaults (passes of 1
/// board, batches of 2, a queue of 32 boards, 120 s deadlines): what a CPU user gets under a burst, beside a huge
/// request, and when a batch overruns its time limit. The boards are the named patterns, which the shipped model
/// steps exactly (docs/ACCURACY.md), so every 200 can be checked against the rule.
/// </summary>
[Collection(nameof(CpuAdmissionTests))]   // one real model at a time: the timings are what is measured
public sealed class CpuAdmissionTests(ITestOutputHelper output)
{
    private static readonly Board[] Boards = [.. Patterns.Named.Values];

    [Fact]
    public async Task BurstOf10TimesTheQueue_KeepsAtLeast80PercentOfOneClientsGoodput_AndRefusesTheRestAtOnceWithRetryAfter()
    {
        // deadlines of 10 minutes: what is asserted is admission by the queue's capacity and the goodput; the CPU defaults'
        // 2 minutes can pass when other work slows the machine several times over after the burst was admitted
        await using var api = Shipped(("Model:MaxDeadlineMs", "600000"));
        await api.StartAsync(seconds: 180);
        using var client = api.CreateLoopbackClient();
        var options = api.Services.GetRequiredService<IOptions<ModelOptions>>().Value;
        int capacity = options.QueueCapacity;

        // one client, one board at a time, before and after the burst: the other test projects' load on the two cores
        // changes over the minute this takes, and the burst is compared with both sides of it
        const int Alone = 4;   // boards one client sends on each side of the burst
        var before = await OneClient(client, Boards[..Alone]);

        double cpu = ProcessorSeconds();
        var burst = Enumerable.Range(0, 10 * capacity).Select(async i =>
        {
            var sent = Stopwatch.StartNew();
            var response = await client.PostAsync("/predict", Json(new { board = Boards[i % Boards.Length].ToRows() }));
            return (Board: Boards[i % Boards.Length], Response: response, Body: await BodyOf(response), Seconds: sent.Elapsed.TotalSeconds);
        }).ToList();
        var answers = await Task.WhenAll(burst);
        double burstCpu = ProcessorSeconds() - cpu;
        var after = await OneClient(client, Boards[Alone..(2 * Alone)]);
        double oneClient = 2 * Alone / (before.Seconds + after.Seconds), oneClientPerCpu = 2 * Alone / (before.CpuSeconds + after.CpuSeconds);

        var ok = answers.Where(a => a.Response.StatusCode == HttpStatusCode.OK).ToList();
        var refused = answers.Where(a => a.Response.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        double goodput = ok.Count(a => Next(a.Body).Equals(LifeRule.Step(a.Board))) / ok.Max(a => a.Seconds);
        double drained = ok.Max(a => a.Seconds);
        double goodputPerCpu = ok.Count(a => Next(a.Body).Equals(LifeRule.Step(a.Board))) / burstCpu;
        output.WriteLine($"one client {oneClient:F2} boards/s ({oneClientPerCpu:F2} per CPU second; before the burst {Alone / before.CpuSeconds:F2}, " +
            $"after {Alone / after.CpuSeconds:F2}); burst of {burst.Count}: {ok.Count} x 200, " +
            $"{refused.Count} x 429, goodput {goodput:F2} boards/s ({goodput / oneClient:P0}), {goodputPerCpu:F2} per CPU second " +
            $"({goodputPerCpu / oneClientPerCpu:P0}), drained in {drained:F1} s; 429 answered in at most " +
            $"{refused.Max(a => a.Seconds):F2} s, Retry-After {refused.Min(a => a.Response.Headers.RetryAfter!.Delta!.Value.TotalSeconds)}" +
            $"-{refused.Max(a => a.Response.Headers.RetryAfter!.Delta!.Value.TotalSeconds)} s");

        Assert.Equal(answers.Length, ok.Count + refused.Count);                       // no 504, no 5xx: nothing admitted died
        Assert.InRange(ok.Count, 1, capacity + options.MaxBatchBoards);               // the queue's boards, and those taken off it to run
        Assert.All(ok, a => Assert.Equal(LifeRule.Step(a.Board), Next(a.Body)));
        // per second of this process's CPU time: other processes (the other test projects) take a varying share of the
        // two cores, so wall-clock rates measured a minute apart compare the machine's load as much as the service
        Assert.True(goodputPerCpu >= 0.8 * oneClientPerCpu, $"goodput {goodputPerCpu:F2} boards per CPU second, one client {oneClientPerCpu:F2}");
        Assert.All(refused, a =>
        {
            Assert.True(a.Seconds < drained / 2, $"a 429 took {a.Seconds:F1} s, the burst drained in {drained:F1} s");
            Assert.InRange(a.Response.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 1, 2 * drained + 2);   // about the work ahead
        });
    }

    [Fact]
    public async Task HugeBatchFromOneClient_LeavesAnotherClientsSingleBoardsAnswered_AndStopsWhenItsClientLeaves()
    {
        await using var api = Shipped(("Model:MaxDeadlineMs", "3600000"), ("Model:QueueCapacity", "300"), ("Model:MaxBoardsPerRequest", "256"),
            ("Api:MaxRequestBodyBytes", "1048576"));
        await api.StartAsync(seconds: 180);
        using var client = api.CreateLoopbackClient();
        using var leave = new CancellationTokenSource();
        var huge = client.PostAsync("/predict/batch",
            Json(new { boards = Enumerable.Range(0, 256).Select(i => Boards[i % Boards.Length].ToRows()), deadlineMs = 3_600_000 }), leave.Token);
        await Eventually(() => api.ModelHost.QueuedBoards > 0 || huge.IsCompleted, "the huge request is queued", 60);
        if (huge.IsCompleted) Assert.Fail($"the huge request was answered at once: {(await huge).StatusCode} {await (await huge).Content.ReadAsStringAsync()}");

        var latencies = new List<double>();
        for (int i = 0; i < 5; i++)
        {
            var clock = Stopwatch.StartNew();
            await Exact(client, Boards[i + 10]);
            latencies.Add(clock.Elapsed.TotalSeconds);
        }
        await leave.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => huge);
        await Eventually(() => api.ModelHost.QueuedBoards == 0, "the huge request has left the queue", 5);
        const string Batches = "conway_inference_seconds{device=\"cpu\",model=\"lifegpt\"}";
        const string Predicted = "conway_boards_predicted_total{device=\"cpu\",model=\"lifegpt\"}";
        string metrics = await client.GetStringAsync("/metrics");
        double batch = MetricValue(metrics, Batches.Replace("{", "_sum{")) / MetricValue(metrics, Batches.Replace("{", "_count{"));
        double predictedWhenItLeft = MetricValue(metrics, Predicted);
        // the batch on the model when the client left stops part-way (between layers); when the leaving reached the service
        // in that batch's last layer, the batch ends instead: either way no batch of the huge request follows it
        await Task.Delay(TimeSpan.FromSeconds(4 * batch + 2));
        metrics = await client.GetStringAsync("/metrics");
        double predictedSince = MetricValue(metrics, Predicted) - predictedWhenItLeft;
        bool stoppedPartWay = api.Logs.AtLeast(LogLevel.Information).Any(entry => entry.Message.StartsWith("Stopped a batch of"));
        output.WriteLine($"single boards beside 256: {string.Join(", ", latencies.Select(s => s.ToString("F1")))} s; a batch took {batch:F1} s on average; " +
            $"after the huge request's client left: {predictedSince} boards predicted in {4 * batch + 2:F1} s, its batch {(stoppedPartWay ? "stopped part-way" : "ran to its end")}");

        // a single board waits for the batch on the model, then goes into the next one beside a slice of the huge request:
        // about two batches, whatever the machine's speed (all 256 boards would be 64 batches)
        Assert.All(latencies, seconds => Assert.True(seconds < 4 * batch + 2, $"a single board took {seconds:F1} s beside the huge request, a batch {batch:F1} s"));
        int maxBatch = api.Services.GetRequiredService<IOptions<ModelOptions>>().Value.MaxBatchBoards;
        Assert.InRange(predictedSince, 0, stoppedPartWay ? 0 : maxBatch);
        Assert.Equal(stoppedPartWay, MetricValue(metrics, "conway_abandoned_inference_seconds_total") > 0);
    }

    [Fact]
    public async Task SpeculativeBatchPastItsTimeLimit_IsStoppedWithinAPass_Answered504_AndOpensTheBreaker()
    {
        await using var api = Shipped(("Model:BatchTimeoutMs", "300"), ("Model:Breaker:MinimumThroughput", "2"),
            ("Model:Breaker:FailureRatio", "0.5"), ("Model:Breaker:BreakSeconds", "30"), ("Model:MaxWaitMs", "0"),
            ("Model:MaxBatchBoards", "4"), ("Model:SliceBoards", "4"));   // a 4-board request is one batch: one failure each
        await api.StartAsync(seconds: 180);
        using var client = api.CreateLoopbackClient();
        var fourBoards = Json(new { boards = Boards.Take(4).Select(board => board.ToRows()) });   // four passes of 1: seconds here

        for (int i = 0; i < 2; i++)
        {
            var clock = Stopwatch.StartNew();
            var response = await client.PostAsync("/predict/batch", Json(new { boards = Boards.Take(4).Select(board => board.ToRows()) }));
            output.WriteLine($"timed out batch answered in {clock.Elapsed.TotalMilliseconds:F0} ms");
            Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
            Assert.Contains("Model:BatchTimeoutMs", (string)(await BodyOf(response))["detail"]!);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"answered after {clock.Elapsed.TotalSeconds:F1} s: the pass was not stopped");
        }

        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync("/healthz/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.PostAsync("/predict/batch", fourBoards)).StatusCode);
    }

    /// <summary>Boards sent one at a time, each checked against the rule: the wall-clock and CPU seconds they took.</summary>
    private static async Task<(double Seconds, double CpuSeconds)> OneClient(HttpClient client, Board[] boards)
    {
        var clock = Stopwatch.StartNew();
        double cpu = ProcessorSeconds();
        foreach (var board in boards) await Exact(client, board);
        return (clock.Elapsed.TotalSeconds, ProcessorSeconds() - cpu);
    }

    private static double ProcessorSeconds() => Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;

    private static ApiFactory Shipped(params (string Key, string Value)[] settings)
    {
        var api = new ApiFactory { LoadModel = ServingExtensions.LoadLifeGpt, Settings = { ["Model:Path"] = ModelOptions.ShippedModel } };
        foreach (var (key, value) in settings) api.Settings[key] = value;
        return api.OnLoopback();
    }

    private static async Task Exact(HttpClient client, Board board)
    {
        var response = await client.PostAsync("/predict", Json(new { board = board.ToRows() }));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(LifeRule.Step(board), Next(await BodyOf(response)));
    }

    private static Board Next(System.Text.Json.Nodes.JsonNode body) =>
        Board.FromRows(body["next"]!.AsArray().Select(row => (string)row!).ToArray());
}

/// <summary>The CPU admission tests measure speed: they run alone, after the tests that run in parallel.</summary>
[CollectionDefinition(nameof(CpuAdmissionTests), DisableParallelization = true)]
public sealed class CpuAdmissionCollection;
