using System.Net;
using Conway.Boards;
using Conway.Decoding;
using static Conway.Api.Tests.Given;

namespace Conway.Api.Tests;

public sealed class PredictEndpointTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private readonly HttpClient _client = api.CreateClient();

    [Fact]
    public async Task Predict_Glider_ReturnsItsNextGenerationMatchingTheRule()
    {
        var response = await _client.PostAsync("/predict", Json(new { board = Glider.ToRows() }));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal($"rule-predictor-test-double@{RulePredictor.Sha256[..12]}", response.Headers.GetValues("X-Model-Version").Single());
        var body = await BodyOf(response);
        string[] expected = [Row(), Row("101"), Row("011"), Row("01"), .. Enumerable.Repeat(Row(), 28)];
        Assert.Equal(expected, body["next"]!.AsArray().Select(row => (string)row!));
        Assert.Equal(expected, body["rule"]!.AsArray().Select(row => (string)row!));
        Assert.True((bool)body["matchesRule"]!);
        Assert.Equal(0, (int)body["mismatchedCells"]!);
        Assert.Empty(body["mismatches"]!.AsArray());
        Assert.Null(body["pAlive"]);
        Assert.Equal("speculative", (string)body["strategy"]!);
        Assert.Equal("rule-predictor-test-double", (string)body["model"]!);
        Assert.Equal(RulePredictor.Sha256[..12], (string)body["modelVersion"]!);
        Assert.True((double)body["elapsedMs"]! >= 0);
    }

    [Fact]
    public async Task Predict_WithProbabilities_ReturnsA32By32GridOfAliveProbabilities()
    {
        var response = await _client.PostAsync("/predict", Json(new { board = Glider.ToRows(), probabilities = true }));

        var pAlive = (await BodyOf(response))["pAlive"]!.AsArray();
        Assert.Equal(Board.Size, pAlive.Count);
        Assert.All(pAlive, row => Assert.Equal(Board.Size, row!.AsArray().Count));
        Assert.Equal(0.75f, (float)pAlive[1]![0]!);
        Assert.Equal(0.25f, (float)pAlive[1]![1]!);
    }

    [Fact]
    public async Task Predict_WhenTheModelDisagreesWithTheRule_ListsTheMismatchedCells()
    {
        await using var wrong = new ApiFactory();
        var client = await wrong.StartAsync();
        wrong.Predictor.Step = board => LifeRule.Step(board).With(5, 7, true).With(1, 0, false);

        var body = await BodyOf(await client.PostAsync("/predict", Json(new { board = Glider.ToRows() })));

        Assert.False((bool)body["matchesRule"]!);
        Assert.Equal(2, (int)body["mismatchedCells"]!);
        Assert.Equal("[[1,0],[5,7]]", body["mismatches"]!.ToJsonString());
        Assert.Equal(Row("001"), (string)body["next"]![1]!);
        Assert.Equal(Row("101"), (string)body["rule"]![1]!);
    }

    [Fact]
    public async Task Predict_PassesTheDecodingOptionsToTheModel()
    {
        await using var fresh = new ApiFactory();
        var client = await fresh.StartAsync();

        var response = await client.PostAsync("/predict", Json(new
        {
            board = Glider.ToRows(), strategy = "autoregressive", temperature = 0.5, topK = 5, seed = 42,
        }));

        Assert.Equal("autoregressive", (string)(await BodyOf(response))["strategy"]!);
        var expected = new DecodeOptions { Strategy = DecodeStrategy.Autoregressive, Temperature = 0.5f, TopK = 5, Seed = 42 };
        Assert.Equal(expected, Assert.Single(fresh.Predictor.Calls).Options);
    }

    [Fact]
    public async Task PredictBatch_SendsAllItsBoardsToTheModelInOneCall()
    {
        await using var fresh = new ApiFactory();
        var client = await fresh.StartAsync();

        var response = await client.PostAsync("/predict/batch",
            Json(new { boards = new[] { Glider.ToRows(), Blinker.ToRows(), Block.ToRows() } }));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await BodyOf(response);
        Assert.Equal(3, (int)body["boards"]!);
        Assert.Equal(3, (int)body["matchingRule"]!);
        var results = body["results"]!.AsArray();
        Assert.Equal([LifeRule.Step(Glider), LifeRule.Step(Blinker), Block],
            results.Select(result => Board.FromRows(result!["next"]!.AsArray().Select(row => (string?)row).ToList())));
        Assert.Equal([Glider, Blinker, Block], Assert.Single(fresh.Predictor.Calls).Boards);
    }

    [Fact]
    public async Task PredictBatch_CountsOnlyTheBoardsThatMatchTheRule()
    {
        await using var wrong = new ApiFactory();
        var client = await wrong.StartAsync();
        wrong.Predictor.Step = board => board.Equals(Blinker) ? board : LifeRule.Step(board);

        var body = await BodyOf(await client.PostAsync("/predict/batch",
            Json(new { boards = new[] { Glider.ToRows(), Blinker.ToRows() } })));

        Assert.Equal(2, (int)body["boards"]!);
        Assert.Equal(1, (int)body["matchingRule"]!);
        Assert.Equal(4, (int)body["results"]![1]!["mismatchedCells"]!);
    }

    [Fact]
    public async Task Predict_WhenTheModelThrows_Is500ProblemDetailWithoutInternals()
    {
        await using var broken = new ApiFactory();
        var client = await broken.StartAsync();
        broken.Predictor.Fault = _ => new InvalidOperationException("CUDA device-side assert in /work/model.cs");

        var response = await client.PostAsync("/predict", Json(new { board = Glider.ToRows() }));

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        string problem = await response.Content.ReadAsStringAsync();
        Assert.Contains("\"status\":500", problem);
        Assert.DoesNotContain("CUDA", problem);
        Assert.DoesNotContain("/work/", problem);
        Assert.DoesNotContain(" at ", problem);
    }
}
