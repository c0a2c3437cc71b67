using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using static Conway.Api.Tests.Given;

namespace Conway.Api.Tests;

/// <summary>Hot reload: new weights loaded and self-tested beside the ones in use, swapped without dropping a request.</summary>
public sealed class ModelReloadTests : IDisposable
{
    private const string Key = "reload-tests-key-0123456789";
    private readonly FileModels _files = new();

    public void Dispose() => _files.Dispose();

    private ApiFactory OneModel(params (string Key, string Value)[] more)
    {
        var api = new ApiFactory
        {
            LoadModel = _files.Load,
            Settings = { ["Model:Models:life:Path"] = _files.Write("life.safetensors", "old weights"), ["Auth:ApiKeys:0"] = Key },
        };
        foreach (var (key, value) in more) api.Settings[key] = value;
        return api;
    }

    private static HttpRequestMessage Reload(string model = "life", string? key = Key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/models/{model}/reload");
        if (key is not null) request.Headers.Add("X-Api-Key", key);
        return request;
    }

    private static HttpRequestMessage Predict(object body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/predict") { Content = Json(body) };
        request.Headers.Add("X-Api-Key", Key);
        return request;
    }

    [Fact]
    public async Task ReloadUnderLoad_SwapsTheWeights_WithoutAFailedRequest_AndABadFileLeavesTheNewWeightsServing()
    {
        await using var api = OneModel();
        var client = await api.StartAsync();
        var statuses = new ConcurrentBag<HttpStatusCode>();
        // each answer: which client sent it, when it was sent and answered, and the version that answered it
        var versions = new ConcurrentQueue<(int Client, long Sent, long Answered, string Version)>();
        using var stop = new CancellationTokenSource();
        var load = Enumerable.Range(0, 4).Select(c => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                long sent = Stopwatch.GetTimestamp();
                var response = await client.SendAsync(Predict(new { board = Glider.ToRows() }));
                statuses.Add(response.StatusCode);
                if (response.IsSuccessStatusCode)
                    versions.Enqueue((c, sent, Stopwatch.GetTimestamp(), response.Headers.GetValues("X-Model-Version").Single()));
            }
        })).ToList();
        await Eventually(() => versions.Count >= 20, "requests are being answered");

        _files.Write("life.safetensors", "new weights");
        long reloadSent = Stopwatch.GetTimestamp();
        var swapped = await client.SendAsync(Reload());
        long reloadAnswered = Stopwatch.GetTimestamp();
        int answeredAtSwap = versions.Count;
        await Eventually(() => versions.Count >= answeredAtSwap + 20, "more requests are answered");
        _files.Write("life.safetensors", "corrupt");
        var refused = await client.SendAsync(Reload());
        int answeredAtRefusal = versions.Count;
        await Eventually(() => versions.Count >= answeredAtRefusal + 20, "more requests are answered");
        await stop.CancelAsync();
        await Task.WhenAll(load);

        Assert.Equal(HttpStatusCode.OK, swapped.StatusCode);
        Assert.Equal(FileModels.Version("new weights"), (string)(await BodyOf(swapped))["version"]!);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.StatusCode);
        Assert.Contains("Nothing was reloaded; the weights in use go on serving. Model life failed to load on cpu", (string)(await BodyOf(refused))["detail"]!);
        Assert.All(statuses, status => Assert.Equal(HttpStatusCode.OK, status));
        string oldVersion = $"life@{FileModels.Version("old weights")}", newVersion = $"life@{FileModels.Version("new weights")}";
        var answers = versions.ToList();
        // Answers reach the 4 clients in no global order, so "one swap, never back" is checked where order is defined:
        // what was answered before the reload was sent is the old weights, what was sent after it was answered the new,
        // and each client's own answers, which come one after another, change version once, from old to new.
        Assert.Contains(answers, a => a.Answered < reloadSent);
        Assert.All(answers.Where(a => a.Answered < reloadSent), a => Assert.Equal(oldVersion, a.Version));
        Assert.All(answers.Where(a => a.Sent > reloadAnswered), a => Assert.Equal(newVersion, a.Version));
        Assert.Contains(answers, a => a.Sent > reloadAnswered);
        foreach (var own in answers.GroupBy(a => a.Client).Select(g => g.OrderBy(a => a.Sent).Select(a => a.Version).ToList()))
        {
            int firstNew = own.IndexOf(newVersion);
            Assert.All(own.Take(firstNew < 0 ? own.Count : firstNew), version => Assert.Equal(oldVersion, version));
            if (firstNew >= 0) Assert.All(own.Skip(firstNew), version => Assert.Equal(newVersion, version));   // one swap, never back
        }
        var model = (await BodyOf(await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/models") { Headers = { { "X-Api-Key", Key } } })))["models"]![0]!;
        Assert.Equal(FileModels.Version("new weights"), (string)model["version"]!);
        Assert.False((bool)model["lastReload"]!["swapped"]!);
        Assert.Equal("api", (string)model["lastReload"]!["trigger"]!);
        Assert.Contains("failed to load", (string)model["lastReload"]!["problem"]!);
    }

    [Fact]
    public async Task ARequestInFlight_FinishesOnTheWeightsItStartedOn_ThenTheOldWeightsAreDisposed()
    {
        // one board per batch, so a 4-board request runs as 4 batches; the reload comes after its first
        await using var api = OneModel(("Model:MaxBatchBoards", "1"), ("Model:SliceBoards", "1"));
        var client = await api.StartAsync();
        var old = Assert.Single(_files.Loaded[Sha("old weights")]);
        using var gate = new ManualResetEventSlim();
        old.Gate = gate;
        var request = new HttpRequestMessage(HttpMethod.Post, "/predict/batch")
        {
            Content = Json(new { boards = new[] { Glider, Blinker, Block, Glider }.Select(board => board.ToRows()) }),
            Headers = { { "X-Api-Key", Key } },
        };
        var inFlight = client.SendAsync(request);
        await Eventually(() => old.Calls.Count == 2, "the request's first batch is on the model");   // the self-test, then it

        _files.Write("life.safetensors", "new weights");
        var reload = client.SendAsync(Reload());
        gate.Set();
        var answer = await inFlight;
        var swapped = await reload;
        var after = await client.SendAsync(Predict(new { board = Blinker.ToRows() }));

        Assert.Equal(HttpStatusCode.OK, swapped.StatusCode);
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Equal($"life@{FileModels.Version("old weights")}", answer.Headers.GetValues("X-Model-Version").Single());
        Assert.Equal([Glider, Blinker, Block, Glider], old.Calls.Skip(1).SelectMany(call => call.Boards));
        Assert.Equal($"life@{FileModels.Version("new weights")}", after.Headers.GetValues("X-Model-Version").Single());
        await Eventually(() => api.Logs.AtLeast(LogLevel.Information).Any(entry => entry.Message.StartsWith("Disposed generation 0 of model life")),
            "the old weights are disposed");
    }

    [Fact]
    public async Task WeightsThatFailTheSelfTest_AreNotSwappedIn()
    {
        await using var api = OneModel();
        var client = await api.StartAsync();

        _files.Write("life.safetensors", "inexact");
        var refused = await client.SendAsync(Reload());
        var after = await client.SendAsync(Predict(new { board = Glider.ToRows() }));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.StatusCode);
        Assert.Contains("Model life failed its self-test on cpu: blinker, glider differ from the rule.", (string)(await BodyOf(refused))["detail"]!);
        Assert.Equal($"life@{FileModels.Version("old weights")}", after.Headers.GetValues("X-Model-Version").Single());
    }

    [Fact]
    public async Task ChangingTheFile_ReloadsTheModelByItself_OnceTheFileIsQuiet()
    {
        await using var api = OneModel(("Model:WatchFiles", "true"), ("Model:ReloadDelayMs", "200"));
        var client = await api.StartAsync();

        _files.Write("life.safetensors", "new weights");

        await Eventually(() => _files.Loaded.ContainsKey(Sha("new weights")), "the new file is loaded");
        HttpResponseMessage after;
        do after = await client.SendAsync(Predict(new { board = Glider.ToRows() }));
        while (after.Headers.GetValues("X-Model-Version").Single() != $"life@{FileModels.Version("new weights")}" && await Wait());
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.Contains(api.Logs.AtLeast(LogLevel.Information), entry => entry.Message.StartsWith("Reloaded model life"));
    }

    [Fact]
    public async Task Reload_NeedsAnApiKey_AndWithoutConfiguredKeysIsRefused403_AnUnknownModelIs404()
    {
        await using (var api = OneModel())
        {
            var client = await api.StartAsync();
            Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(Reload(key: null))).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await client.SendAsync(Reload(model: "other"))).StatusCode);
        }
        await using var open = new ApiFactory { LoadModel = _files.Load, Settings = { ["Model:Models:life:Path"] = _files.Write("life.safetensors", "old weights") } };
        var openClient = await open.StartAsync();
        var forbidden = await openClient.SendAsync(Reload(key: null));
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        Assert.Contains("configure Auth:ApiKeys", (string)(await BodyOf(forbidden))["detail"]!);
        Assert.Equal(2, _files.Loaded[Sha("old weights")].Count);   // each instance's start: no reload loaded anything
    }

    private static async Task<bool> Wait()
    {
        await Task.Delay(20);
        return true;
    }

    private static string Sha(string weights) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(weights)));
}
