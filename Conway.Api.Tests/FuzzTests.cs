using System.Diagnostics;
using System.Net;
using System.Text;
using Xunit.Abstractions;
using static Conway.Api.Tests.Given;

namespace Conway.Api.Tests;

/// <summary>
/// Malformed input, thousands of times over: seeded (reproducible), in memory, a few seconds. Runs alone (no other
/// test in parallel), so that the memory it measures is its own.
/// </summary>
[CollectionDefinition(nameof(FuzzTests), DisableParallelization = true)]
[Collection(nameof(FuzzTests))]
public sealed class FuzzTests(ITestOutputHelper output)
{
    private const int Bodies = 3000;
    private static readonly string[] ValidRows = Glider.ToRows();

    [Fact]
    public async Task ThousandsOfMalformedBodies_AreAll4xx_NeverReachTheModel_AndLeaveTheServiceReadyWithBoundedMemory()
    {
        await using var api = new ApiFactory();
        var client = await api.StartAsync();
        var random = new Random(1128);
        var bodies = Enumerable.Range(0, Bodies).Select(i => Malformed(random, i)).ToList();
        await Send(client, bodies.Take(100));
        long memoryBefore = GC.GetTotalMemory(forceFullCollection: true);
        long workingSetBefore = Process.GetCurrentProcess().WorkingSet64;

        var clock = Stopwatch.StartNew();
        var statuses = await Send(client, bodies).WaitAsync(TimeSpan.FromSeconds(60));

        long memoryAfter = GC.GetTotalMemory(forceFullCollection: true);
        long workingSetAfter = Process.GetCurrentProcess().WorkingSet64;
        var outOfRange = statuses.Select((status, i) => (status, i)).Where(pair => (int)pair.status is < 400 or >= 500).ToList();
        Assert.True(outOfRange.Count == 0, $"not 4xx: {string.Join("; ", outOfRange.Take(5).Select(pair => $"{pair.status} for {Describe(bodies[pair.i])}"))}");
        Assert.Empty(api.Predictor.Calls);
        Assert.Empty(api.Logs.AtLeast(LogLevel.Error));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/predict", Json(new { board = ValidRows }))).StatusCode);
        Assert.InRange(memoryAfter - memoryBefore, long.MinValue, 32L << 20);
        Assert.InRange(workingSetAfter - workingSetBefore, long.MinValue, 256L << 20);
        output.WriteLine($"{Bodies} malformed bodies in {clock.ElapsedMilliseconds} ms: " +
            string.Join(", ", statuses.GroupBy(status => (int)status).OrderBy(group => group.Key).Select(group => $"{group.Count()} x {group.Key}")) +
            $"; managed heap {(memoryAfter - memoryBefore) / 1024} KiB, working set {(workingSetAfter - workingSetBefore) >> 20} MiB after vs before");
    }

    private static async Task<HttpStatusCode[]> Send(HttpClient client, IEnumerable<(string Path, string? ContentType, byte[] Body)> bodies)
    {
        using var parallel = new SemaphoreSlim(8);
        return await Task.WhenAll(bodies.Select(async body =>
        {
            await parallel.WaitAsync();
            try
            {
                using var response = await client.PostAsync(body.Path, Bytes(body.Body, body.ContentType));
                return response.StatusCode;
            }
            finally
            {
                parallel.Release();
            }
        }));
    }

    private static string Describe((string Path, string? ContentType, byte[] Body) body) =>
        $"{body.Path} {body.ContentType}: {Encoding.UTF8.GetString(body.Body.AsSpan(0, Math.Min(120, body.Body.Length)))}";

    /// <summary>One malformed request of ten kinds, in turn.</summary>
    private static (string Path, string? ContentType, byte[] Body) Malformed(Random random, int i)
    {
        string path = random.Next(2) == 0 ? "/predict" : "/predict/batch";
        string json = "application/json";
        return (i % 10) switch
        {
            0 => (path, json, RandomBytes(random, random.Next(0, 2048))),
            1 => (path, random.Next(3) switch { 0 => null, 1 => "text/plain", _ => "application/x-www-form-urlencoded" }, Encoding.UTF8.GetBytes($$"""{"board": []}""")),
            2 => (path, json, Utf8(Deep(random.Next(65, 5000), random.Next(2) == 0))),
            3 => ("/predict", json, Utf8($$"""{"board": {{Rows(random, wrongShape: true)}}}""")),
            4 => ("/predict/batch", json, Utf8($$"""{"boards": [{{Rows(random, wrongShape: random.Next(2) == 0)}}, {{Rows(random, wrongShape: true)}}]}""")),
            5 => ("/predict", json, Utf8($$"""{"board": {{Rows(random, wrongShape: false)}}, "{{Pick(random, "topK", "temperature", "seed", "deadlineMs")}}": {{HugeNumber(random)}}}""")),
            6 => ("/predict", json, Utf8($$"""{"rle": {{System.Text.Json.JsonSerializer.Serialize(BadRle(random))}}}""")),
            7 => ("/predict", json, Utf8($$"""{"cells": {{System.Text.Json.JsonSerializer.Serialize(BadCells(random))}}}""")),
            8 => (path, json, Utf8(WrongTypes(random))),
            _ => (path, json, new byte[65_537 + random.Next(100_000)]),
        };
    }

    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    private static string Pick(Random random, params string[] choices) => choices[random.Next(choices.Length)];

    private static string Deep(int depth, bool arrays) =>
        arrays ? new string('[', depth) + new string(']', depth) : string.Concat(Enumerable.Repeat("""{"board":""", depth)) + "null" + new string('}', depth);

    /// <summary>32 rows of 32 cells; with <paramref name="wrongShape"/>, a wrong row count, a wrong row length or a wrong character.</summary>
    private static string Rows(Random random, bool wrongShape)
    {
        var rows = ValidRows.ToList();
        if (wrongShape)
        {
            switch (random.Next(3))
            {
                case 0: rows = [.. rows.Take(random.Next(0, 32)).Concat(random.Next(2) == 0 ? [] : Enumerable.Repeat(Row(), random.Next(33, 40)))]; break;
                case 1: rows[random.Next(32)] = Row("1")[..random.Next(0, 32)] + new string('0', random.Next(0, 2) * random.Next(33, 60)); break;
                default: rows[random.Next(32)] = Row().Remove(random.Next(32), 1).Insert(random.Next(31), Pick(random, "2", "x", " ", "é", "\\u0000")); break;
            }
        }
        return "[" + string.Join(",", rows.Select(row => $"\"{row}\"")) + "]";
    }

    /// <summary>A number out of range for every numeric field (topK, temperature, seed, deadlineMs).</summary>
    private static string HugeNumber(Random random) => Pick(random,
        "1e309", "-1e309", "99999999999999999999999999", "-9223372036854775809", "3.4e39", "1" + new string('0', random.Next(20, 400)));

    /// <summary>RLE that cannot be valid: a broken or oversized header, with a random body of RLE's own characters.</summary>
    private static string BadRle(Random random)
    {
        string body = new([.. Enumerable.Range(0, random.Next(0, 200)).Select(_ => "bo$!0123456789 \n"[random.Next(16)])]);
        return random.Next(4) switch
        {
            0 => body,
            1 => $"x = {random.Next(33, int.MaxValue)}, y = 3\n{body}",
            2 => $"x = 3, y = {Pick(random, "-1", "", "abc", "99999999999999999999", "33")}\n{body}",
            _ => $"x = 3, y = 3, rule = {Pick(random, "B36/S23", "HighLife", "", "B3/S23:T0,0", "B/S")}\n{body}",
        };
    }

    /// <summary>Plaintext that cannot be valid: a foreign character, or more than 32 rows or columns.</summary>
    private static string BadCells(Random random) => random.Next(3) switch
    {
        0 => $"!c\n..O\n.{Pick(random, "X", "o", "1", "#")}.\n",
        1 => string.Join("\n", Enumerable.Repeat("O", random.Next(33, 80))),
        _ => new string('.', random.Next(33, 500)) + "O",
    };

    private static string WrongTypes(Random random) => Pick(random,
        "null", "[]", "\"board\"", "42", "true", """{"board": "0101"}""", """{"boards": {"0": []}}""", """{"board": [1, 2, 3]}""",
        """{"strategy": 1, "board": []}""", """{"board": null, "rle": null, "cells": null}""", """{"Board": []}""", """{"board": [], "board": []}""",
        """{"boards": [null]}""", """{"boards": [[]]}""", """{"rle": 5}""", """{"cells": ["a"]}""", """{"probabilities": "yes"}""", """{"board": [""");
}
