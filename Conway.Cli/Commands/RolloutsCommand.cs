using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Conway.Boards;
using Conway.Cli.CommandLine;
using Conway.Cli.Progress;

namespace Conway.Cli.Commands;

/// <summary>
/// <c>conway rollouts</c>: load on a running service's <c>POST /rollout</c> (meant for loopback): for each number of
/// concurrent rollouts, that many rollouts of random boards run at once, their NDJSON lines read as they stream. Prints
/// a Markdown table, one row per number: generations streamed, seconds, generations/s and the mean first divergence.
/// </summary>
public static class RolloutsCommand
{
    public static readonly string[] Feeds = ["model", "rule"];

    public static Command Create()
    {
        var url = CliOptions.LoopbackUrl(LoadCommand.DefaultUrl);
        var concurrent = CliOptions.WholeList("--concurrent", "1,8", "rollouts running at once, one table row per number");
        var steps = CliOptions.Whole("--steps", 50, "generations per rollout (at most the service's Model:MaxRolloutSteps)", min: 1);
        var feed = CliOptions.Choice("--feed", "model", "what each generation is predicted from: model (its own previous output) or rule (the rule's previous state)", Feeds);
        var strategy = CliOptions.Choice("--strategy", "speculative", "the decoding strategy asked for", DecodingChoices.Strategies);
        var timeout = CliOptions.Whole("--timeout", 600, "seconds for each row (and the deadline each rollout asks for); what is left then is stopped", min: 1);

        var command = new Command("rollouts", "load on POST /rollout of a running service on loopback: concurrent rollouts streamed, generations/s and first divergence")
        {
            url, concurrent, steps, feed, strategy, timeout,
        };
        command.SetAction(parsed => Run(new Uri(parsed.GetRequiredValue(url)), CliOptions.Wholes(parsed.GetRequiredValue(concurrent))!, parsed.GetValue(steps),
            parsed.GetRequiredValue(feed), parsed.GetRequiredValue(strategy), parsed.GetValue(timeout),
            parsed.InvocationConfiguration.Output, parsed.InvocationConfiguration.Error));
        return command;
    }

    /// <summary>How one rollout ended: its end line's reason (or the HTTP status, or "no answer"), and its first divergence.</summary>
    private sealed record Ending(string Reason, int? FirstDivergence);

    private static int Run(Uri url, int[] rows, int steps, string feed, string strategy, int seconds, TextWriter output, TextWriter error)
    {
        using var http = new HttpClient { BaseAddress = url, Timeout = Timeout.InfiniteTimeSpan };
        output.WriteLine("| concurrent | generations | seconds | generations/s | mean first divergence | endings |");
        output.WriteLine("| ---: | ---: | ---: | ---: | ---: | --- |");
        bool allCompleted = true;
        foreach (int concurrent in rows)
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
            int generations = 0;
            var clock = Stopwatch.StartNew();
            var rollouts = Enumerable.Range(0, concurrent).Select(i => Task.Run(() => RolloutAsync(
                http, new { board = Board.Random(0.3, new Random(i)).ToRows(), steps, feed, strategy, deadlineMs = seconds * 1000 },
                () => Interlocked.Increment(ref generations), deadline.Token))).ToArray();
            using (var progress = new ProgressDisplay(error, ProgressDisplay.StderrIsTerminal, "rollouts"))
            {
                while (!Task.WaitAll(rollouts, TimeSpan.FromMilliseconds(200)))
                    progress.Update($"{concurrent} concurrent rollouts: generations", Volatile.Read(ref generations), (long)concurrent * steps,
                        $"{rollouts.Count(rollout => rollout.IsCompleted)} of {concurrent} ended");
            }
            double elapsed = clock.Elapsed.TotalSeconds;

            var endings = rollouts.Select(rollout => rollout.Result).ToList();
            allCompleted &= endings.All(ending => ending.Reason == "completed");
            var diverged = endings.Where(ending => ending.FirstDivergence is not null).Select(ending => (double)ending.FirstDivergence!.Value).ToList();
            string divergence = diverged.Count == 0 ? $"- (0 of {concurrent} diverged)"
                : string.Create(CultureInfo.InvariantCulture, $"{diverged.Average():F1} ({diverged.Count} of {concurrent} diverged)");
            string byReason = string.Join(", ", endings.GroupBy(ending => ending.Reason).OrderBy(group => group.Key).Select(group => $"{group.Key}: {group.Count()}"));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {concurrent} | {generations} | {elapsed:F1} | {generations / elapsed:F1} | {divergence} | {byReason} |"));
        }
        return allCompleted ? 0 : 1;
    }

    /// <summary>Runs one rollout, counting its generation lines as they arrive; how it ended.</summary>
    private static async Task<Ending> RolloutAsync(HttpClient http, object body, Action generated, CancellationToken cancellation)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "rollout") { Content = JsonContent.Create(body) };
            request.Headers.Accept.ParseAdd("application/x-ndjson");
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellation);
            if (!response.IsSuccessStatusCode) return new Ending(((int)response.StatusCode).ToString(CultureInfo.InvariantCulture), null);
            using var lines = new StreamReader(await response.Content.ReadAsStreamAsync(cancellation));
            while (await lines.ReadLineAsync(cancellation) is { } line)
            {
                using var json = JsonDocument.Parse(line);
                var root = json.RootElement;
                if (root.GetProperty("type").GetString() == "generation")
                {
                    generated();
                    continue;
                }
                var first = root.GetProperty("firstDivergence");
                return new Ending(root.GetProperty("reason").GetString() ?? "end", first.ValueKind == JsonValueKind.Number ? first.GetInt32() : null);
            }
            return new Ending("no end line", null);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException or JsonException)
        {
            return new Ending("no answer", null);
        }
    }
}
