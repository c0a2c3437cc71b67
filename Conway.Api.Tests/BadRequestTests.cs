using System.Net;
using System.Text;
using System.Text.Json;
using static Conway.Api.Tests.Given;

namespace Conway.Api.Tests;

/// <summary>A client's mistake is a 4xx RFC 9457 problem detail that says what is wrong, and never an error log.</summary>
public sealed class BadRequestTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    /// <param name="ErrorKey">The <c>errors</c> entry a 400 names, when it is about a field.</param>
    /// <param name="Detail">What <c>detail</c> (and that entry) must say.</param>
    public sealed record BadRequest(string Path, string? ContentType, byte[] Body, HttpStatusCode Status, string? ErrorKey, string Detail);

    private static readonly string[] GliderRows = Glider.ToRows();

    private static BadRequest Single(object body, string? key, string detail) =>
        new("/predict", "application/json", JsonSerializer.SerializeToUtf8Bytes(body), HttpStatusCode.BadRequest, key, detail);

    private static BadRequest Raw(string body, string? key, string detail, string path = "/predict") =>
        new(path, "application/json", Encoding.UTF8.GetBytes(body), HttpStatusCode.BadRequest, key, detail);

    private static BadRequest Batch(object body, string key, string detail) =>
        new("/predict/batch", "application/json", JsonSerializer.SerializeToUtf8Bytes(body), HttpStatusCode.BadRequest, key, detail);

    private static BadRequest Convert(object body, string key, string detail) =>
        new("/patterns/convert", "application/json", JsonSerializer.SerializeToUtf8Bytes(body), HttpStatusCode.BadRequest, key, detail);

    private static string[] With(int row, string? text) => GliderRows.Select((r, i) => i == row ? text! : r).ToArray();

    public static readonly Dictionary<string, BadRequest> Cases = new()
    {
        ["31 rows"] = Single(new { board = GliderRows[..31] }, "board", "32 rows; got 31"),
        ["33 rows"] = Single(new { board = GliderRows.Append(Row()).ToArray() }, "board", "32 rows; got 33"),
        ["short row"] = Single(new { board = With(3, Row()[..31]) }, "board", "Row 3 has 31 characters"),
        ["bad character"] = Single(new { board = With(2, Row("11100x")) }, "board", "Row 2, column 5: not a cell; use '0' (dead) or '1' (alive)."),
        ["null row"] = Single(new { board = With(4, null) }, "board", "Row 4 is null"),
        ["no board"] = Single(new { }, "$", "exactly one of 'board', 'rle' or 'cells'; got none"),
        ["null board"] = Raw("""{"board": null}""", "$", "got none"),
        ["board and rle"] = Single(new { board = GliderRows, rle = "bo$2bo$3o!" }, "$", "got 'board' and 'rle'"),
        ["not JSON"] = Raw("board please", "$", "Not valid JSON. (line 1, byte 1)"),
        ["truncated JSON"] = Raw("""{"board": [""", "board[0]", "Not valid JSON. (line 1, byte 12)"),
        ["trailing garbage"] = Raw("""{"board": []} x""", "$", "Not valid JSON. (line 1, byte 15)"),
        ["board is a number"] = Raw("""{"board": 5}""", "board", "Expected an array; got a number. (line 1, byte 12)"),
        ["row is a number"] = Raw("""{"board": [1]}""", "board[0]", "Expected a string; got a number."),
        ["unknown field"] = Single(new { board = GliderRows, bored = true }, "$", "Unknown property; the properties here are 'board', 'rle', 'cells', 'model', 'strategy',"),
        ["field in wrong case"] = Single(new { Board = GliderRows }, "$", "Unknown property; the properties here are"),
        ["duplicate field"] = Raw("""{"rle": "o!", "rle": "o!"}""", "rle", "Given more than once; give each property once."),
        ["unknown strategy"] = Single(new { board = GliderRows, strategy = "fast" }, "strategy", "Expected \"speculative\" or \"autoregressive\"."),
        ["strategy as integer"] = Single(new { board = GliderRows, strategy = 1 }, "strategy", "Expected \"speculative\" or \"autoregressive\"; got a number."),
        ["temperature too high"] = Single(new { board = GliderRows, temperature = 2.5 }, "temperature", "from 0 to 2; got 2.5"),
        ["negative temperature"] = Single(new { board = GliderRows, temperature = -0.1 }, "temperature", "from 0 to 2; got -0.1"),
        ["temperature as string"] = Single(new { board = GliderRows, temperature = "0.5" }, "temperature", "Expected a number; got a string."),
        ["topK 0"] = Single(new { board = GliderRows, topK = 0 }, "topK", "from 1 to 256; got 0"),
        ["topK 257"] = Single(new { board = GliderRows, topK = 257 }, "topK", "from 1 to 256; got 257"),
        ["fractional seed"] = Single(new { board = GliderRows, seed = 1.5 }, "seed", "Expected a whole number from -9223372036854775808 to 9223372036854775807."),
        ["probabilities as string"] = Single(new { board = GliderRows, probabilities = "yes" }, "probabilities", "Expected true or false; got a string."),
        ["JSON null"] = Raw("null", "$", "JSON null"),
        ["empty body"] = Raw("", "$", "The body holds no JSON; send a JSON object."),
        ["array body"] = Raw("[]", "$", "Expected an object; got an array."),
        ["invalid UTF-8"] = new("/predict", "application/json", [.. """{"rle": """u8, 0x22, 0xff, 0xfe, 0x22, (byte)'}'], HttpStatusCode.BadRequest, "rle", "The string is not valid UTF-8."),
        ["plain text"] = new("/predict", "text/plain", Encoding.UTF8.GetBytes("hello"), HttpStatusCode.UnsupportedMediaType, null, "got 'text/plain'"),
        ["no content type"] = new("/predict", null, JsonSerializer.SerializeToUtf8Bytes(new { board = GliderRows }), HttpStatusCode.UnsupportedMediaType, null, "no Content-Type"),
        ["body over the limit"] = new("/predict", "application/json", new byte[70_000], HttpStatusCode.RequestEntityTooLarge, null, "limit of 65536 bytes"),
        ["no boards"] = Batch(new { }, "boards", "Give 1 to 8 boards; got 0"),
        ["empty batch"] = Batch(new { boards = Array.Empty<string[]>() }, "boards", "Give 1 to 8 boards; got 0"),
        ["too many boards"] = Batch(new { boards = Enumerable.Repeat(GliderRows, 9) }, "boards", "Give 1 to 8 boards; got 9"),
        ["bad board in batch"] = Batch(new { boards = new[] { GliderRows, With(7, Row("2")) } }, "boards[1]", "Row 7, column 0: not a cell"),
        ["null board in batch"] = Batch(new { boards = new[] { GliderRows, null } }, "boards[1]", "The board is missing"),
        ["bad option in batch"] = Batch(new { boards = new[] { GliderRows }, topK = 300 }, "topK", "got 300"),
        ["convert: bad RLE"] = Convert(new { rle = "x = 3, y = 3\nbo$2bo$4o!" }, "rle", "Line 2, column 9: this row is longer than the 3 columns"),
        ["convert: bad plaintext"] = Convert(new { cells = ".O.\n.x." }, "cells", "Line 2, column 2: not a cell; use '.' (dead) or 'O' (alive)."),
        ["convert: RLE rule"] = Convert(new { rle = "x = 3, y = 3, rule = B36/S23\no!" }, "rle", "Line 1: the header's rule is not supported; only B3/S23 (Conway's Life) is."),
        ["convert: RLE header"] = Convert(new { rle = "x = 3 y = 3\no!" }, "rle", "Line 1: expected the RLE header 'x = <width>, y = <height>[, rule = B3/S23]'."),
        ["convert: RLE width"] = Convert(new { rle = "x = three, y = 3\no!" }, "rle", "Line 1: x in the header is not a whole number."),
        ["convert: RLE too large"] = Convert(new { rle = "x = 40, y = 3\no!" }, "rle", "Line 1: the header's size is larger than the 32x32 torus."),
        ["convert: RLE body"] = Convert(new { rle = "x = 3, y = 3\nb#o!" }, "rle", "Line 2, column 2: not valid in an RLE body; use b (dead), o (alive)"),
        ["convert: bad board"] = Convert(new { board = GliderRows[..5] }, "board", "32 rows; got 5"),
        ["convert: no board"] = Convert(new { }, "$", "exactly one of 'board', 'rle' or 'cells'; got none"),
        ["convert: rle and cells"] = Convert(new { rle = "x = 1, y = 1\no!", cells = "O" }, "$", "got 'rle' and 'cells'"),
        ["convert: decoding option"] = Convert(new { rle = "x = 1, y = 1\no!", strategy = "speculative" }, "$", "Unknown property; the properties here are 'board', 'rle', 'cells' (camelCase, case-sensitive)."),
        ["convert: plain text"] = new("/patterns/convert", "text/plain", Encoding.UTF8.GetBytes("bo$2bo$3o!"), HttpStatusCode.UnsupportedMediaType, null, "got 'text/plain'"),
        ["convert: body over the limit"] = new("/patterns/convert", "application/json", new byte[70_000], HttpStatusCode.RequestEntityTooLarge, null, "limit of 65536 bytes"),
        ["deadline 0"] = Single(new { board = GliderRows, deadlineMs = 0 }, "deadlineMs", "at least 1 (milliseconds); got 0"),
        ["fractional deadline"] = Single(new { board = GliderRows, deadlineMs = 2.5 }, "deadlineMs", "Expected a whole number from -2147483648 to 2147483647."),
    };

    public static TheoryData<string> CaseNames => [.. Cases.Keys];

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task BadRequest_IsAProblemDetailThatSaysWhatIsWrong(string name)
    {
        var bad = Cases[name];

        var response = await api.CreateClient().PostAsync(bad.Path, Bytes(bad.Body, bad.ContentType));

        Assert.Equal(bad.Status, response.StatusCode);
        var problem = await AssertProblem(response, bad.Status);
        Assert.Contains(bad.Detail, (string)problem["detail"]!);
        if (bad.ErrorKey is not null)
            Assert.Contains(bad.Detail, (string)problem["errors"]![bad.ErrorKey]![0]!);
    }

    [Fact]
    public async Task BadRequests_AreNeverLoggedAtErrorLevel()
    {
        await using var fresh = new ApiFactory();
        var client = fresh.CreateClient();

        foreach (var bad in Cases.Values)
            Assert.Equal(bad.Status, (await client.PostAsync(bad.Path, Bytes(bad.Body, bad.ContentType))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/nope")).StatusCode);

        Assert.Empty(fresh.Logs.AtLeast(LogLevel.Error));
    }

    /// <summary>Client text no problem may repeat: 48 letters and digits, none of them a run of 8 that the service writes itself.</summary>
    private static readonly string Sent = new(new Random(9157).GetItems<char>("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789", 48));

    /// <summary>Bodies whose mistake is client text (spaced so that no 8 characters of the JSON around it match the problem's own JSON).</summary>
    public static readonly Dictionary<string, (string Path, string Body)> Echoes = new()
    {
        ["invalid literal"] = ("/predict", $$"""{ "rle" : t{{Sent}} }"""),
        ["invalid start of a value"] = ("/predict", Sent),
        ["text after the value"] = ("/predict", $$"""{ "rle" : "o!" } {{Sent}}"""),
        ["unknown property"] = ("/predict", $$"""{ "{{Sent}}" : 1 }"""),
        ["unknown property, quoted in the path"] = ("/predict", $$"""{ "{{Sent}}.x y" : 1 }"""),
        ["unknown property after a known one"] = ("/predict/batch", $$"""{ "topK" : 3, "{{Sent}}" : 1 }"""),
        ["string for a number"] = ("/predict", $$"""{ "seed" : "{{Sent}}" }"""),
        ["invalid escape"] = ("/predict", $$"""{ "rle" : "\q{{Sent}}" }"""),
        ["control character in a string"] = ("/predict", $$"""{ "rle" : "{{Sent}}{{'\u0001'}}" }"""),
        ["number out of range"] = ("/predict", $$"""{ "seed" : 1{{new string('1', 40)}}.5 }"""),
        ["RLE header"] = ("/patterns/convert", $$"""{ "rle" : "{{Sent}}\no!" }"""),
        ["RLE width"] = ("/predict", $$"""{ "rle" : "x = {{Sent}}, y = 3\no!" }"""),
        ["RLE width of many digits"] = ("/predict", $$"""{ "rle" : "x = 9{{new string('7', 60)}}, y = 3\no!" }"""),
        ["RLE rule"] = ("/patterns/convert", $$"""{ "rle" : "x = 3, y = 3, rule = {{Sent}}\no!" }"""),
        ["RLE body"] = ("/predict", $$"""{ "rle" : "x = 3, y = 3\n#{{Sent}}!" }"""),
        ["plaintext"] = ("/patterns/convert", $$"""{ "cells" : ".O.\n{{Sent}}" }"""),
        ["board row"] = ("/predict", $$"""{ "board" : [ "{{Sent}}" ] }"""),
        ["board rows"] = ("/predict/batch", $$"""{ "boards" : [ [ {{string.Join(", ", Enumerable.Repeat($"\"{Sent[..32]}\"", 32))}} ] ] }"""),
        ["deep nesting"] = ("/predict", $$"""{ "board" : {{new string('[', 200)}}"""),
    };

    public static TheoryData<string> EchoNames => [.. Echoes.Keys];

    [Theory]
    [MemberData(nameof(EchoNames))]
    public async Task BadBody_IsNeverRepeatedInTheProblem(string name)
    {
        var (path, body) = Echoes[name];

        var response = await api.CreateClient().PostAsync(path, Json(body));

        await AssertProblem(response, HttpStatusCode.BadRequest);
        string problem = await response.Content.ReadAsStringAsync();
        var repeated = Enumerable.Range(0, body.Length - 7).Select(i => body.Substring(i, 8)).Where(part => problem.Contains(part, StringComparison.Ordinal)).ToList();
        Assert.True(repeated.Count == 0, $"the problem repeats '{repeated.FirstOrDefault()}' of the body: {problem}");
    }

    [Fact]
    public async Task InvalidLiteralOfAMebibyte_Is400OfUnder2KB_WithoutTheLiteral()
    {
        await using var big = new ApiFactory { Settings = { ["Api:MaxRequestBodyBytes"] = $"{2 << 20}" } };
        string literal = "t" + new string('X', 1 << 20);

        var response = await big.CreateClient().PostAsync("/predict", Json($$"""{"rle": {{literal}}}"""));

        var problem = await AssertProblem(response, HttpStatusCode.BadRequest);
        string text = await response.Content.ReadAsStringAsync();
        Assert.InRange(text.Length, 1, 2047);
        Assert.DoesNotContain("XXXXXXXX", text);
        Assert.Equal("Not valid JSON. (line 1, byte 10)", (string)problem["errors"]!["rle"]![0]!);
    }

    [Fact]
    public async Task LongBadDeadlineHeader_IsRepeatedOnlyAsItsFirst40CharactersPrintable()
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/predict") { Content = Json(new { board = GliderRows }) };
        request.Headers.TryAddWithoutValidation("X-Deadline-Ms", "soon\t" + new string('z', 4000));

        var response = await api.CreateClient().SendAsync(request);

        var problem = await AssertProblem(response, HttpStatusCode.BadRequest);
        Assert.Equal($"Must be one whole number of milliseconds, at least 1; got 'soon?{new string('z', 35)}...'.", (string)problem["errors"]!["X-Deadline-Ms"]![0]!);
        Assert.DoesNotContain(new string('z', 36), await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task LongUnknownRoute_404RepeatsOnlyTheFirst40CharactersOfThePath()
    {
        var problem = await AssertProblem(await api.CreateClient().GetAsync("/" + new string('n', 3000)), HttpStatusCode.NotFound);

        Assert.Equal($"Nothing is served at GET /{new string('n', 39)}....", (string)problem["detail"]!);
    }

    [Theory]
    [InlineData("soon")]
    [InlineData("0")]
    [InlineData("-5")]
    [InlineData("1.5")]
    [InlineData("99999999999")]
    public async Task BadDeadlineHeader_Is400NamingTheHeader(string value)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/predict") { Content = Json(new { board = GliderRows }) };
        request.Headers.Add("X-Deadline-Ms", value);

        var problem = await AssertProblem(await api.CreateClient().SendAsync(request), HttpStatusCode.BadRequest);

        Assert.Contains($"got '{value}'", (string)problem["errors"]!["X-Deadline-Ms"]![0]!);
    }

    [Fact]
    public async Task BodyOverTheLimitWithoutContentLength_Is413()
    {
        var response = await api.CreateClient().PostAsync("/predict", new UnsizedJson(new byte[70_000]));

        var problem = await AssertProblem(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Contains("limit of 65536 bytes", (string)problem["detail"]!);
    }

    [Fact]
    public async Task UnknownRoute_Is404ProblemDetail()
    {
        var problem = await AssertProblem(await api.CreateClient().GetAsync("/nope"), HttpStatusCode.NotFound);

        Assert.Equal("Nothing is served at GET /nope.", (string)problem["detail"]!);
    }

    [Fact]
    public async Task WrongMethod_Is405ProblemDetail()
    {
        var problem = await AssertProblem(await api.CreateClient().GetAsync("/predict"), HttpStatusCode.MethodNotAllowed);

        Assert.Equal("GET is not allowed on /predict.", (string)problem["detail"]!);
    }

    private static async Task<System.Text.Json.Nodes.JsonNode> AssertProblem(HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        string text = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain(" at Conway.", text);
        Assert.DoesNotContain(".cs:line", text);
        Assert.DoesNotContain("/work/", text);
        foreach (string dotnet in new[] { "Int32", "Int64", "Single", "Boolean", "System." }) Assert.DoesNotContain(dotnet, text);
        var problem = await BodyOf(response);
        Assert.Equal((int)status, (int)problem["status"]!);
        Assert.False(string.IsNullOrWhiteSpace((string?)problem["title"]));
        return problem;
    }

    /// <summary>A JSON body sent without Content-Length, so only the bytes read can show it is too large.</summary>
    private sealed class UnsizedJson : HttpContent
    {
        private readonly byte[] _body;

        public UnsizedJson(byte[] body)
        {
            _body = body;
            Headers.ContentType = new("application/json");
        }

        protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context) => stream.WriteAsync(_body).AsTask();

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
