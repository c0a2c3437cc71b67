using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using Conway.Boards;
using Conway.Cli.CommandLine;
using Conway.Cli.Progress;

namespace Conway.Cli.Commands;

/// <summary>
/// <c>conway load</c>: a bounded HTTP load test of a running service (meant for loopback): a fixed number of requests
/// from N concurrent clients, each answer checked against the exact rule. Prints one Markdown table row: latency as
/// the client sees it, and the medians of the service's own <c>Server-Timing</c> (queue, inference, and total: from
/// the request's arrival at its endpoint to its checked answer), and what HTTP adds: per request, the client's time less
/// the service's total.
/// </summary>
public static class LoadCommand
{
    /// <summary>Where the service listens by default (Kestrel's default, as README's <c>dotnet run --project Conway.Api</c>).</summary>
    public const string DefaultUrl = "http://localhost:5000";

    public static Command Create()
    {
        var url = CliOptions.LoopbackUrl(DefaultUrl);
        var concurrency = CliOptions.Whole("--concurrency", 32, "clients sending at once", min: 1);
        var requests = CliOptions.Whole("--requests", 1000, "requests in all", min: 1);
        var boards = CliOptions.Whole("--boards", 1, "boards per request (1: POST /predict; more: POST /predict/batch)", min: 1);
        var strategy = CliOptions.Choice("--strategy", "speculative", "the decoding strategy asked for", DecodingChoices.Strategies);
        var timeout = CliOptions.Whole("--timeout", 300, "seconds for the whole test (and for any one request); what is left then is not sent", min: 1);

        var command = new Command("load", "a bounded HTTP load test of a running service on loopback; every answer checked against the rule")
        {
            url, concurrency, requests, boards, strategy, timeout,
        };
        command.SetAction(parsed => Run(new Uri(parsed.GetRequiredValue(url)), parsed.GetValue(concurrency), parsed.GetValue(requests),
            parsed.GetValue(boards), parsed.GetRequiredValue(strategy), parsed.GetValue(timeout),
            parsed.InvocationConfiguration.Output, parsed.InvocationConfiguration.Error));
        return command;
    }

    private static int Run(Uri url, int concurrency, int requests, int boardsPerRequest, string strategy, int seconds, TextWriter output, TextWriter error)
    {
        using var http = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(seconds) };
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        var latencies = new double[requests];
        var timings = new ServerTiming[requests];                   // the service's own
        var statuses = new int[requests];
        int next = -1, wrong = 0, finished = 0, failed = 0;
        var clock = Stopwatch.StartNew();
        bool single = boardsPerRequest == 1;
        var clients = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            for (int i; (i = Interlocked.Increment(ref next)) < requests && !deadline.IsCancellationRequested;)
            {
                var boards = Enumerable.Range(0, boardsPerRequest).Select(j => Board.Random(0.3, new Random(i * 7919 + j))).ToArray();
                object body = single
                    ? new { board = boards[0].ToRows(), strategy }
                    : new { boards = boards.Select(b => b.ToRows()).ToArray(), strategy };
                var started = Stopwatch.GetTimestamp();
                try
                {
                    using var response = await http.PostAsJsonAsync(single ? "predict" : "predict/batch", body, deadline.Token);
                    statuses[i] = (int)response.StatusCode;
                    if (response.IsSuccessStatusCode)
                    {
                        timings[i] = ServerTiming.Of(response);
                        if (!await AllMatchRule(response, boards)) Interlocked.Increment(ref wrong);
                    }
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    statuses[i] = -1;
                }
                latencies[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                if (statuses[i] != 200) Interlocked.Increment(ref failed);
                Interlocked.Increment(ref finished);
            }
        })).ToArray();
        using (var progress = new ProgressDisplay(error, ProgressDisplay.StderrIsTerminal, "load"))
        {
            string Status() => $"{Volatile.Read(ref failed)} not 200, {Volatile.Read(ref wrong)} answers not the rule";
            while (!Task.WaitAll(clients, TimeSpan.FromMilliseconds(200)))
                progress.Update("requests", Volatile.Read(ref finished), requests, Status());
        }
        double elapsed = clock.Elapsed.TotalSeconds;

        int sent = Math.Min(requests, next);
        var answered = Enumerable.Range(0, sent).Where(i => statuses[i] == 200).ToArray();
        var ok = answered.Select(i => latencies[i]).ToArray();
        string Median(Func<int, double> ofRequest) => Percentile(answered.Select(ofRequest), 0.5);
        var byStatus = string.Join(", ", statuses.Take(sent).GroupBy(s => s).OrderBy(g => g.Key).Select(g => $"{(g.Key < 0 ? "no answer" : g.Key)}: {g.Count()}"));
        output.WriteLine("| concurrency | boards/request | requests | statuses | requests/s | boards/s | p50 ms | p99 ms | service's median ms: queue / inference / total | HTTP's median ms (client − service) | answers ≠ rule |");
        output.WriteLine("| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {concurrency} | {boardsPerRequest} | {sent} | {byStatus} | {ok.Length / elapsed:F1} | {ok.Length * boardsPerRequest / elapsed:F1} | {Percentile(ok, 0.5)} | {Percentile(ok, 0.99)} | {Median(i => timings[i].Queue)} / {Median(i => timings[i].Inference)} / {Median(i => timings[i].Total)} | {Median(i => latencies[i] - timings[i].Total)} | {wrong} |"));
        return ok.Length == sent && wrong == 0 ? 0 : 1;
    }

    /// <summary>The value below which a share <paramref name="p"/> of <paramref name="values"/> lie (nearest rank), in ms to 0.1; "-" for none.</summary>
    private static string Percentile(IEnumerable<double> values, double p)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? "-" : sorted[Math.Max(0, (int)Math.Ceiling(p * sorted.Length) - 1)].ToString("F1", CultureInfo.InvariantCulture);
    }

    private static async Task<bool> AllMatchRule(HttpResponseMessage response, Board[] boards)
    {
        if (boards.Length == 1)
        {
            var single = await response.Content.ReadFromJsonAsync<Answer>();
            return single is not null && Board.FromRows(single.Next).Equals(LifeRule.Step(boards[0]));
        }
        var batch = await response.Content.ReadFromJsonAsync<BatchAnswer>();
        return batch is not null && batch.Results.Zip(boards).All(p => Board.FromRows(p.First.Next).Equals(LifeRule.Step(p.Second)));
    }

    private sealed record Answer(string[] Next);

    private sealed record BatchAnswer(Answer[] Results);

    /// <summary>The service's <c>Server-Timing</c> header (<c>queue;dur=..., inference;dur=..., total;dur=...</c>), in ms; NaN where absent.</summary>
    public readonly record struct ServerTiming(double Queue, double Inference, double Total)
    {
        public static ServerTiming Of(HttpResponseMessage response)
        {
            var durations = new Dictionary<string, double>();
            foreach (var metric in (response.Headers.TryGetValues("Server-Timing", out var values) ? values : []).SelectMany(v => v.Split(',')))
                if (metric.Split(";dur=", StringSplitOptions.TrimEntries) is [var name, var text] && double.TryParse(text, CultureInfo.InvariantCulture, out double ms))
                    durations.TryAdd(name, ms);
            double Of(string name) => durations.GetValueOrDefault(name, double.NaN);
            return new(Of("queue"), Of("inference"), Of("total"));
        }
    }
}
