using System.Net;
using Conway.Api.Serving;
using Conway.Boards;
using Xunit.Abstractions;
using static Conway.Api.Tests.Given;

namespace Conway.Api.Tests;

/// <summary>
/// The shipped model (models/lifegpt.safetensors) on the CPU, served on a real Kestrel socket on 127.0.0.1: loaded
/// once for these tests, with a short self-test and small passes so that they fit this suite's time and memory
/// (a CPU pass needs about 0.1 GB per board).
/// </summary>
public sealed class ShippedModelServer : IAsyncLifetime
{
    public const int QueueCapacity = 2;

    public ApiFactory Api { get; } = new ApiFactory
    {
        LoadModel = ServingExtensions.LoadLifeGpt,
        Settings =
        {
            ["Model:Path"] = ModelOptions.ShippedModel, ["Model:SelfTestPatterns"] = "blinker,glider",
            ["Model:BoardsPerPass"] = "2", ["Model:MaxBatchBoards"] = "2", ["Model:QueueCapacity"] = $"{QueueCapacity}",
        },
    };

    public HttpClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Api.OnLoopback().StartAsync(seconds: 180);
        Client = Api.CreateLoopbackClient();
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Api.DisposeAsync();
    }
}

public sealed class ShippedModelTests(ShippedModelServer server, ITestOutputHelper output) : IClassFixture<ShippedModelServer>
{
    [Fact]
    public async Task ShippedModel_PassesItsSelfTest_AndPredictsAGliderExactlyLikeTheRule()
    {
        var ready = await BodyOf(await server.Client.GetAsync("/healthz/ready"));
        Assert.Equal("healthy", (string)ready["status"]!);

        var response = await server.Client.PostAsync("/predict", Json(new { rle = "x = 3, y = 3\nbo$2bo$3o!" }));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await BodyOf(response);
        Assert.True((bool)body["matchesRule"]!);
        Assert.Equal(LifeRule.Step(Glider).ToRows(), body["next"]!.AsArray().Select(row => (string)row!));
        Assert.Equal("lifegpt@" + ((string)ready["checks"]!["model"]!["data"]!["sha256"]!)[..12], response.Headers.GetValues("X-Model-Version").Single());
        output.WriteLine($"warm-up {ready["checks"]!["model"]!["data"]!["devices"]![0]!["warmUpMs"]} ms; " +
            $"Server-Timing: {response.Headers.GetValues("Server-Timing").Single()}");
    }

    [Fact]
    public async Task ShippedModel_RolloutOfABlinker_StreamsTheRulesBoardsExactly_ThenCompletes()
    {
        var response = await server.Client.PostAsync("/rollout", Json(new { board = Blinker.ToRows(), steps = 3 }));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var lines = (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var expected = Enumerable.Range(1, 3).Select(step =>
        {
            string rows = System.Text.Json.JsonSerializer.Serialize(LifeRule.Step(Blinker, step).ToRows());
            string version = Conway.Checkpoints.Checkpoint.Sha256(ModelOptions.ShippedModel)[..ModelVersion.Length];
            return $$"""{"type":"generation","step":{{step}},"board":{{rows}},"rule":{{rows}},"mismatches":[],"matchesRule":true,"firstDivergence":null,"model":"lifegpt","modelVersion":"{{version}}","passes":1}""";
        }).Append("""{"type":"end","reason":"completed","steps":3,"firstDivergence":null}""");
        Assert.Equal(expected, lines);
    }

    [Fact]
    public async Task ShippedModel_BurstOf10TimesItsQueue_GetsExactAnswersOr429_NothingElse()
    {
        var random = new Random(7);
        var boards = Enumerable.Range(0, 10 * ShippedModelServer.QueueCapacity).Select(_ => Board.Random(0.3, random)).ToList();

        var answers = await Task.WhenAll(boards.Select(async board =>
        {
            var response = await server.Client.PostAsync("/predict", Json(new { board = board.ToRows() }));
            return (Board: board, response.StatusCode, Body: await BodyOf(response));
        })).WaitAsync(TimeSpan.FromSeconds(120));

        var accepted = answers.Where(answer => answer.StatusCode == HttpStatusCode.OK).ToList();
        Assert.All(answers, answer => Assert.Contains(answer.StatusCode, new[] { HttpStatusCode.OK, HttpStatusCode.TooManyRequests }));
        Assert.InRange(accepted.Count, 1, boards.Count - 1);
        Assert.All(accepted, answer => Assert.Equal(
            (bool)answer.Body["matchesRule"]!,
            LifeRule.Step(answer.Board).Equals(Board.FromRows(answer.Body["next"]!.AsArray().Select(row => (string?)row).ToList()))));
        output.WriteLine($"{boards.Count} requests: {accepted.Count} answered 200 ({accepted.Count(answer => (bool)answer.Body["matchesRule"]!)} matching the rule), " +
            $"{boards.Count - accepted.Count} answered 429");
    }
}
