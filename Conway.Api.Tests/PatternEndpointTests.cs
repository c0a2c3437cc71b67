using System.Net;
using Conway.Boards;
using static Conway.Api.Tests.Given;

namespace Conway.Api.Tests;

public sealed class PatternEndpointTests(ApiFactory api) : IClassFixture<ApiFactory>, IAsyncLifetime
{
    private HttpClient _client = null!;

    // after the startup self-test, whose model calls are forgotten: these endpoints must make none of their own
    public async Task InitializeAsync() => _client = await api.StartAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Patterns_ListsTheCatalogueInOrder_EachWithItsCentredRowsPopulationAndRle()
    {
        var response = await _client.GetAsync("/patterns");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var patterns = (await BodyOf(response)).AsArray();
        Assert.Equal(Patterns.Names, patterns.Select(pattern => (string)pattern!["name"]!));
        var glider = patterns.Single(pattern => (string)pattern!["name"]! == "glider")!;
        Assert.Equal(Patterns.Named["glider"].ToRows(), glider["board"]!.AsArray().Select(row => (string)row!));
        Assert.Equal(5, (int)glider["population"]!);
        Assert.Equal(PatternFormats.ToRle(Patterns.Named["glider"]), (string)glider["rle"]!);
        Assert.Empty(api.Predictor.Calls);
    }

    [Theory]
    [InlineData("rle", "#N Glider\nx = 3, y = 3, rule = B3/S23\nbo$2bo$3o!")]
    [InlineData("cells", "!Name: Glider\n.O.\n..O\nOOO")]
    public async Task ConvertPattern_ReadsRleOrPlaintext_AndAnswersTheBoardAtTheTopLeft(string form, string text)
    {
        var response = await _client.PostAsync("/patterns/convert", Json(new Dictionary<string, string> { [form] = text }));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await BodyOf(response);
        Assert.Equal(Glider.ToRows(), body["board"]!.AsArray().Select(row => (string)row!));
        Assert.Equal(5, (int)body["population"]!);
        Assert.Equal("x = 32, y = 32, rule = B3/S23\nbo$2bo$3o!\n", (string)body["rle"]!);
        Assert.Null(body["name"]);
    }

    [Fact]
    public async Task ConvertPattern_WritesABoardAsRle_ThatReadsBackAsTheSameBoard()
    {
        var pulsar = Patterns.Named["pulsar"];

        var written = await BodyOf(await _client.PostAsync("/patterns/convert", Json(new { board = pulsar.ToRows() })));
        var read = await BodyOf(await _client.PostAsync("/patterns/convert", Json(new { rle = (string)written["rle"]! })));

        Assert.Equal(pulsar.ToRows(), read["board"]!.AsArray().Select(row => (string)row!));
        Assert.Equal(48, (int)read["population"]!);
        Assert.Empty(api.Predictor.Calls);
    }
}
