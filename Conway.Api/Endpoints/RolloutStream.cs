using System.Text;
using System.Text.Json;
using Conway.Api.Contracts;
using Conway.Api.Serving;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;

namespace Conway.Api.Endpoints;

/// <summary>
/// A rollout written as it runs, one line per generation, each flushed at once, then the end line: as NDJSON
/// (<c>application/x-ndjson</c>: one JSON object a line) or as server-sent events (<c>text/event-stream</c>:
/// <c>event: generation</c> or <c>event: end</c>, <c>data: </c> the same JSON). It owns the rollout and stops it when done.
/// </summary>
internal sealed class RolloutStream(Rollout rollout, RolloutStream.Format format, JsonSerializerOptions json) : IResult
{
    public enum Format { Ndjson, EventStream }

    public const string Ndjson = "application/x-ndjson";
    public const string EventStream = "text/event-stream";

    /// <summary>
    /// The format the request's <c>Accept</c> asks for: NDJSON when it has none or accepts anything; otherwise the acceptable
    /// one of highest quality (NDJSON on a tie). Null when it accepts neither (406).
    /// </summary>
    public static Format? Negotiate(HttpRequest request)
    {
        if (request.Headers.Accept.Count == 0) return Format.Ndjson;
        if (!MediaTypeHeaderValue.TryParseList(request.Headers.Accept, out var ranges)) return null;
        double ndjson = ranges.Where(range => Covers(range, Ndjson)).Select(Quality).DefaultIfEmpty(0).Max();
        double events = ranges.Where(range => Covers(range, EventStream)).Select(Quality).DefaultIfEmpty(0).Max();
        return ndjson == 0 && events == 0 ? null : events > ndjson ? Format.EventStream : Format.Ndjson;
    }

    private static bool Covers(MediaTypeHeaderValue range, string media) => new MediaTypeHeaderValue(media).IsSubsetOf(range);

    private static double Quality(MediaTypeHeaderValue range) => range.Quality ?? 1;

    public async Task ExecuteAsync(HttpContext http)
    {
        using (rollout)
        {
            var response = http.Response;
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = format == Format.EventStream ? EventStream : Ndjson;
            response.Headers.CacheControl = "no-cache";
            response.Headers["X-Accel-Buffering"] = "no";   // nginx (and proxies that honour it) pass each line on at once
            http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
            try
            {
                await response.StartAsync(http.RequestAborted);
                await response.Body.FlushAsync(http.RequestAborted);   // the 200 and its headers reach the client now, before the first generation
                await foreach (var generation in rollout.Generations())
                    await WriteAsync(response, RolloutLines.Generation(generation), "generation", http.RequestAborted);
                if (rollout.Outcome is { } outcome)
                    await WriteAsync(response, RolloutLines.End(outcome, rollout.Deadline, http), "end", http.RequestAborted);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException && http.RequestAborted.IsCancellationRequested)
            {
                // the client left: the rollout stops (disposed) and counts as stopped by its client
            }
        }
    }

    private async Task WriteAsync(HttpResponse response, RolloutLine line, string eventName, CancellationToken cancellation)
    {
        byte[] data = JsonSerializer.SerializeToUtf8Bytes(line, json);
        if (format == Format.EventStream) await response.Body.WriteAsync(Encoding.UTF8.GetBytes($"event: {eventName}\ndata: "), cancellation);
        await response.Body.WriteAsync(data, cancellation);
        await response.Body.WriteAsync(format == Format.EventStream ? "\n\n"u8.ToArray() : "\n"u8.ToArray(), cancellation);
        await response.Body.FlushAsync(cancellation);
    }
}
