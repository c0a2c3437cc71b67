using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Conway.Api.Serving;
using Conway.Boards;
using Conway.Decoding;
using Conway.Testing;
using static Conway.Api.Tests.Given;

namespace Conway.Api.Tests;

/// <summary>
/// A real model whose samples vary: the reference library's under-trained checkpoint (shared/data/conformance, not
/// exact, so served without a self-test) on one CPU worker, on Kestrel, with a batching window long enough that
/// requests sent together share a batch. Its predictor can be made to run out of memory on batches of more than one
/// board, so the resilience pipeline (PredictorResilience) splits them.
/// </summary>
public sealed class UncertainModelServer : IAsyncLifetime
{
    public bool OutOfMemoryAboveOneBoard { get; set; }

    public ApiFactory Api { get; }

    public HttpClient Client { get; private set; } = null!;

    /// <summary>Conformance board 3 (the model is least unsure there, so a sample costs a few seconds on this CPU).</summary>
    public Board Board { get; private set; } = Board.Empty;

    public UncertainModelServer() => Api = new ApiFactory
    {
        LoadModel = (options, path, device) => new FailingAboveOneBoard(ServingExtensions.LoadLifeGpt(options, path, device), this),
        Settings =
        {
            ["Model:Path"] = SharedData.Root is null ? "" : SharedData.Path("data", "conformance", "lifegpt-xt1.27.21-undertrained.pt"),
            ["Model:SelfTestPatterns"] = "none", ["Model:MaxWaitMs"] = "500", ["Model:BoardsPerPass"] = "4",
            ["Model:MaxDeadlineMs"] = "600000",   // sampling an uncertain model takes seconds a board here, more on a busy machine
        },
    };

    public async Task InitializeAsync()
    {
        if (SharedData.Root is null) return;
        using var golden = JsonDocument.Parse(File.ReadAllText(SharedData.Path("data", "conformance", "xt-golden.json")));
        Board = Board.FromCells(golden.RootElement.GetProperty("boards")[3].GetProperty("initial").GetString());
        await Api.OnLoopback().StartAsync(seconds: 120);
        Client = Api.CreateLoopbackClient();
        Client.Timeout = TimeSpan.FromMinutes(5);   // an uncertain model's samples take seconds each, more beside other tests
    }

    public async Task DisposeAsync()
    {
        Client?.Dispose();
        await Api.DisposeAsync();
    }

    private sealed class FailingAboveOneBoard(IBoardPredictor model, UncertainModelServer server) : IBoardPredictor
    {
        public ModelInfo Info => model.Info;

        public IReadOnlyList<Prediction> Predict(IReadOnlyList<Board> boards, DecodeOptions options, CancellationToken cancellation) =>
            server.OutOfMemoryAboveOneBoard && boards.Count > 1
                ? throw new OutOfMemoryException("injected: out of memory")
                : model.Predict(boards, options, cancellation);

        public void Dispose() => model.Dispose();
    }
}

public sealed class SeededSamplingTests(UncertainModelServer server) : IClassFixture<UncertainModelServer>
{
    private const long Seed = 5;

    [SharedDataFact]
    public async Task A_seeded_request_gets_the_same_sample_alone_and_inside_a_mixed_batch_behind_a_request_with_the_same_seed()
    {
        var alone = await Sample(Single(server.Board));

        // through the real queue, in one batch: first a request with the same options and seed (old code merged the two
        // into one model call, so the second request's board drew the first board's... second row of random numbers),
        // an unseeded one with the same options, a greedy one; then ours
        var neighbours = new[]
        {
            server.Client.PostAsync("/predict", Json(Single(LifeRule.Step(server.Board)))),
            server.Client.PostAsync("/predict", Json(Single(server.Board, seed: null))),
            server.Client.PostAsync("/predict", Json(new { board = server.Board.ToRows() })),
        };
        await Task.Delay(100);
        var batched = await Sample(Single(server.Board));

        Assert.All(await Task.WhenAll(neighbours), response => Assert.Equal(HttpStatusCode.OK, response.StatusCode));
        Assert.Equal(alone.ToJsonString(), batched.ToJsonString());
        Assert.NotEqual(LifeRule.Step(server.Board).ToRows(), Rows(alone));      // really a sample of an uncertain model
    }

    [SharedDataFact]
    public async Task A_seeded_batch_request_gets_the_same_samples_when_an_out_of_memory_split_decodes_it_board_by_board()
    {
        var body = new { boards = new[] { server.Board.ToRows(), server.Board.ToRows() }, temperature = 1.0, seed = Seed, probabilities = true };
        var whole = await SampleBatch(body);

        server.OutOfMemoryAboveOneBoard = true;
        JsonNode split;
        try
        {
            split = await SampleBatch(body);
        }
        finally
        {
            server.OutOfMemoryAboveOneBoard = false;
        }

        // the same boards; P(alive) as computed in a batch of one instead of two (float32 sums in another order)
        Assert.Equal(Enumerable.Range(0, 2).Select(board => Rows(whole[board]!)), Enumerable.Range(0, 2).Select(board => Rows(split[board]!)));
        for (int board = 0; board < 2; board++)
        {
            float[] a = PAlive(whole[board]!), b = PAlive(split[board]!);
            Assert.True(a.Zip(b).All(p => Math.Abs(p.First - p.Second) <= 1e-5f), $"board {board}: P(alive) differs by more than 1e-5");
        }
        Assert.NotEqual(Rows(whole[0]!), Rows(whole[1]!));                       // the two boards draw their own cells
    }

    private static object Single(Board board, long? seed = Seed) =>
        new { board = board.ToRows(), temperature = 1.0, seed, probabilities = true };

    /// <summary>The sampled next state and its probabilities (the parts that must not depend on the batch).</summary>
    private async Task<JsonNode> Sample(object body)
    {
        var response = await server.Client.PostAsync("/predict", Json(body));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var result = await BodyOf(response);
        return new JsonObject { ["next"] = result["next"]!.DeepClone(), ["pAlive"] = result["pAlive"]!.DeepClone() };
    }

    private async Task<JsonArray> SampleBatch(object body)
    {
        var response = await server.Client.PostAsync("/predict/batch", Json(body));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return new JsonArray([.. (await BodyOf(response))["results"]!.AsArray()
            .Select(result => (JsonNode)new JsonObject { ["next"] = result!["next"]!.DeepClone(), ["pAlive"] = result["pAlive"]!.DeepClone() })]);
    }

    private static float[] PAlive(JsonNode sample)
    {
        var values = new List<float>();
        foreach (var row in sample["pAlive"]!.AsArray())
            foreach (var p in row!.AsArray()) values.Add((float)p!);
        return [.. values];
    }

    private static string[] Rows(JsonNode sample) => [.. sample["next"]!.AsArray().Select(row => (string)row!)];
}
