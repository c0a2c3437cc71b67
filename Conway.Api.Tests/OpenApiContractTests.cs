extern alias JsonEverything;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Conway.Api.Serving;
using JsonEverything::Json.Schema;
using static Conway.Api.Tests.Given;

namespace Conway.Api.Tests;

/// <summary>
/// The served OpenAPI document is the contract: live responses of every documented status, made by real requests,
/// validate against their operation's response schema and carry the headers it declares as required; the document's
/// examples validate against their schemas, its request examples are accepted, every documented error status has a
/// problem example, and those examples say what the live service says for the same mistake.
/// </summary>
public sealed class OpenApiContractTests : IAsyncLifetime
{
    private const string Key = "contract-test-key-0123456789";

    private readonly ApiFactory _api = new() { Settings = { ["Auth:ApiKeys:0"] = Key } };
    private JsonNode _document = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _client = await _api.StartAsync();
        _client.DefaultRequestHeaders.Add("X-Api-Key", Key);
        _document = JsonNode.Parse(await _client.GetStringAsync("/openapi/v1.json"))!;
    }

    public async Task DisposeAsync() => await _api.DisposeAsync();

    private static readonly string[] GliderRows = Glider.ToRows();

    [Fact]
    public async Task EveryDocumentedStatus_ProducedLive_MatchesItsResponseSchemaAndHeaders()
    {
        var checks = new (string Path, string Method, HttpStatusCode Status, Func<HttpClient, Task<HttpResponseMessage>> Send)[]
        {
            ("/predict", "post", HttpStatusCode.OK, client => client.PostAsync("/predict", Json(new { rle = "x = 3, y = 3\nbo$2bo$3o!", probabilities = true }))),
            ("/predict", "post", HttpStatusCode.OK, client => client.PostAsync("/predict", Json(new { board = GliderRows, strategy = "autoregressive" }))),
            ("/predict/batch", "post", HttpStatusCode.OK, client => client.PostAsync("/predict/batch", Json(new { boards = new[] { GliderRows, Blinker.ToRows() } }))),
            ("/patterns", "get", HttpStatusCode.OK, client => client.GetAsync("/patterns")),
            ("/models", "get", HttpStatusCode.OK, client => client.GetAsync("/models")),
            ("/models/{name}/reload", "post", HttpStatusCode.OK, client => client.PostAsync("/models/rule-predictor-test-double/reload", null)),
            ("/models/{name}/reload", "post", HttpStatusCode.NotFound, client => client.PostAsync("/models/nope/reload", null)),
            ("/models/{name}/reload", "post", HttpStatusCode.Unauthorized, client => Unkeyed(client, "/models/rule-predictor-test-double/reload")),
            ("/patterns/convert", "post", HttpStatusCode.OK, client => client.PostAsync("/patterns/convert", Json(new { cells = ".O.\n..O\nOOO" }))),
            ("/predict", "post", HttpStatusCode.BadRequest, client => client.PostAsync("/predict", Json(new { board = GliderRows, topK = 300 }))),
            ("/predict", "post", HttpStatusCode.BadRequest, client => client.PostAsync("/predict", Json("""{"board": [1]}"""))),
            ("/predict/batch", "post", HttpStatusCode.BadRequest, client => client.PostAsync("/predict/batch", Json(new { boards = Array.Empty<string[]>() }))),
            ("/patterns/convert", "post", HttpStatusCode.BadRequest, client => client.PostAsync("/patterns/convert", Json("{}"))),
            ("/predict", "post", HttpStatusCode.Unauthorized, client => Unkeyed(client, "/predict")),
            ("/predict/batch", "post", HttpStatusCode.Unauthorized, client => Unkeyed(client, "/predict/batch")),
            ("/predict", "post", HttpStatusCode.RequestEntityTooLarge, client => client.PostAsync("/predict", Bytes(new byte[70_000], "application/json"))),
            ("/patterns/convert", "post", HttpStatusCode.RequestEntityTooLarge, client => client.PostAsync("/patterns/convert", Bytes(new byte[70_000], "application/json"))),
            ("/predict/batch", "post", HttpStatusCode.UnsupportedMediaType, client => client.PostAsync("/predict/batch", Bytes("x"u8.ToArray(), "text/plain"))),
            ("/patterns/convert", "post", HttpStatusCode.UnsupportedMediaType, client => client.PostAsync("/patterns/convert", Bytes("x"u8.ToArray(), "text/plain"))),
            ("/rollout", "post", HttpStatusCode.BadRequest, client => client.PostAsync("/rollout", Json(new { board = GliderRows, steps = 0 }))),
            ("/rollout", "post", HttpStatusCode.BadRequest, client => client.PostAsync("/rollout", Json(new { board = GliderRows, steps = 2, feed = "teacher" }))),
            ("/rollout", "post", HttpStatusCode.Unauthorized, client => Unkeyed(client, "/rollout")),
            ("/rollout", "post", HttpStatusCode.NotAcceptable, client => client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/rollout")
            {
                Content = Json(new { board = GliderRows, steps = 2 }),
                Headers = { { "Accept", "text/html" } },
            })),
            ("/rollout", "post", HttpStatusCode.RequestEntityTooLarge, client => client.PostAsync("/rollout", Bytes(new byte[70_000], "application/json"))),
            ("/rollout", "post", HttpStatusCode.UnsupportedMediaType, client => client.PostAsync("/rollout", Bytes("x"u8.ToArray(), "text/plain"))),
            ("/predict", "post", HttpStatusCode.GatewayTimeout, async client =>
            {
                _api.Predictor.Delay = TimeSpan.FromMilliseconds(500);
                try { return await client.PostAsync("/predict", Json(new { board = GliderRows, deadlineMs = 50 })); }
                finally { _api.Predictor.Delay = TimeSpan.Zero; }
            }),
        };

        foreach (var (path, method, status, send) in checks)
        {
            var response = await send(_client);
            Assert.True(status == response.StatusCode, $"{method} {path}: expected {(int)status}, got {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            await AssertMatches(response, Response(path, method, status), $"{method} {path} {(int)status}");
        }
    }

    [Fact]
    public async Task RolloutLines_ProducedLive_AsNdjsonAndEventStream_MatchTheDocumentedLineSchema()
    {
        var documented = Response("/rollout", "post", HttpStatusCode.OK);
        var rollouts = new (string Accept, object Body)[]
        {
            ("application/x-ndjson", new { rle = "x = 3, y = 3\nbo$2bo$3o!", steps = 3, probabilities = true, strategy = "autoregressive" }),
            ("text/event-stream", new { board = GliderRows, steps = 2, feed = "rule" }),
            ("application/x-ndjson", new { board = GliderRows, steps = 40, deadlineMs = 150 }),   // ends with the deadline's problem
        };
        _api.Predictor.Step = board => board.With(31, 31, true);   // a model that is wrong every time: mismatches and a first divergence
        _api.Predictor.Delay = TimeSpan.FromMilliseconds(20);
        var types = new List<string>();
        try
        {
            foreach (var (accept, body) in rollouts)
            {
                var request = new HttpRequestMessage(HttpMethod.Post, "/rollout") { Content = Json(body), Headers = { { "Accept", accept } } };
                var response = await _client.SendAsync(request);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.Equal(accept, response.Content.Headers.ContentType?.MediaType);
                Assert.True(response.Headers.Contains("X-Request-Id"));
                var schema = documented["content"]?[accept]?["schema"] ?? throw new Xunit.Sdk.XunitException($"/rollout 200: no schema for {accept}");
                string text = await response.Content.ReadAsStringAsync();
                var lines = accept == "text/event-stream"
                    ? text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(frame => frame.Split('\n')[1]["data: ".Length..])
                    : text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
                foreach (string line in lines)
                {
                    var json = JsonNode.Parse(line)!;
                    AssertValid(_document, schema, json, $"/rollout {accept} line");
                    types.Add($"{json["type"]}:{json["reason"]}:{json["problem"]?["status"]}");
                }
            }
        }
        finally
        {
            (_api.Predictor.Step, _api.Predictor.Delay) = (Conway.Boards.LifeRule.Step, TimeSpan.Zero);
        }
        Assert.Contains("end:completed:", types);
        Assert.Contains("end:deadline:504", types);
        Assert.Equal(3, types.Count(type => type.StartsWith("end:", StringComparison.Ordinal)));
        Assert.True(types.Count(type => type.StartsWith("generation:", StringComparison.Ordinal)) >= 3 + 2 + 1, string.Join(", ", types));
    }

    [Fact]
    public async Task TooManyBoards_429_MatchesItsResponseSchemaAndHeaders()
    {
        await using var limited = new ApiFactory { Settings = { ["RateLimit:PermitsPerSecond"] = "1", ["RateLimit:Burst"] = "1" } };
        var client = await limited.StartAsync();
        var document = JsonNode.Parse(await client.GetStringAsync("/openapi/v1.json"))!;

        HttpResponseMessage response;
        do response = await client.PostAsync("/predict", Json(new { board = GliderRows }));
        while (response.StatusCode == HttpStatusCode.OK);

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        await AssertMatches(response, Response(document, "/predict", "post", response.StatusCode), "post /predict 429", document);
    }

    [Fact]
    public async Task NoModel_503_MatchesItsResponseSchemaAndHeaders()
    {
        await using var broken = new ApiFactory { LoadModel = (_, _, _) => throw new InvalidOperationException("no model in this test") };
        var client = broken.CreateClient();
        var document = JsonNode.Parse(await client.GetStringAsync("/openapi/v1.json"))!;

        var response = await client.PostAsync("/predict", Json(new { board = GliderRows }));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        await AssertMatches(response, Response(document, "/predict", "post", response.StatusCode), "post /predict 503", document);
    }

    [Fact]
    public async Task RoutingProblems_404And405_MatchTheProblemDetailsSchema()
    {
        var problem = _document["components"]!["schemas"]!["ProblemDetails"]!;
        foreach (var response in new[] { await _client.GetAsync("/nope"), await _client.GetAsync("/predict") })
        {
            Assert.True(response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed);
            AssertValid(_document, new JsonObject { ["$ref"] = "#/components/schemas/ProblemDetails" }, JsonNode.Parse(await response.Content.ReadAsStringAsync()), $"{(int)response.StatusCode}");
        }
        Assert.NotNull(problem["properties"]!["requestId"]);
    }

    [Fact]
    public void EveryExampleInTheDocument_ValidatesAgainstItsOwnSchema()
    {
        var examples = Examples(_document).ToList();

        foreach (var (what, schema, example) in examples) AssertValid(_document, schema, example, what);
        // the 200s and requests of both prediction operations, and every problem example (e.g. each status of /predict)
        Assert.Contains(examples, example => example.What == "post /predict 200 example");
        Assert.Contains(examples, example => example.What == "post /predict/batch request example");
        Assert.Contains(examples, example => example.What == "post /predict 503 example");
        Assert.Contains(examples, example => example.What == "post /patterns/convert 400 example");
    }

    [Fact]
    public async Task RequestExamples_AreAccepted()
    {
        int requests = 0;
        foreach (var (path, method, operation) in Operations(_document))
            if (operation["requestBody"]?["content"]?["application/json"]?["example"] is { } request)
            {
                var answer = await _client.PostAsync(path, Json(request.ToJsonString()));
                Assert.True(answer.StatusCode == HttpStatusCode.OK, $"{method} {path} request example: {(int)answer.StatusCode} {await answer.Content.ReadAsStringAsync()}");
                requests++;
            }
        Assert.True(requests >= 2, $"only {requests} request examples in the document");
    }

    [Fact]
    public void EveryDocumentedErrorStatus_HasAProblemExampleOfThatStatus()
    {
        var predict = _document["paths"]!["/predict"]!["post"]!["responses"]!.AsObject().Select(response => response.Key);
        Assert.Superset(new HashSet<string> { "400", "401", "413", "415", "429", "503", "504" }, predict.ToHashSet());

        foreach (var (path, method, operation) in Operations(_document))
            foreach (var (status, response) in operation["responses"]!.AsObject())
                if (int.Parse(status) >= 400)
                {
                    var example = response!["content"]?["application/problem+json"]?["example"]
                        ?? throw new Xunit.Sdk.XunitException($"{method} {path} {status}: no problem example (Conway.Api/Endpoints/ProblemExamples.cs)");
                    Assert.Equal(int.Parse(status), (int)example["status"]!);
                }
    }

    [Fact]
    public async Task ProblemExamples_SayWhatTheLiveServiceSaysForTheSameMistake()
    {
        var responses = _document["paths"]!["/predict"]!["post"]!["responses"]!;
        string[] shortRow = [.. GliderRows.Select((row, r) => r == 2 ? row[..^1] : row)];
        var live = new (string Status, Func<Task<HttpResponseMessage>> Send)[]
        {
            ("400", () => _client.PostAsync("/predict", Json(new { board = shortRow }))),
            ("401", () => _api.CreateClient().PostAsync("/predict", Json(new { board = GliderRows }))),
            ("413", () => _client.PostAsync("/predict", Bytes(new byte[70_000], "application/json"))),
            ("415", () => _client.PostAsync("/predict", Bytes("x"u8.ToArray(), "text/plain"))),
        };

        foreach (var (status, send) in live)
        {
            var example = responses[status]!["content"]!["application/problem+json"]!["example"]!.AsObject();
            var answer = JsonNode.Parse(await (await send()).Content.ReadAsStringAsync())!.AsObject();
            Assert.Equal(answer.Select(property => property.Key), example.Select(property => property.Key));
            foreach (string same in new[] { "type", "title", "status", "detail", "errors" })
                Assert.True(JsonNode.DeepEquals(answer[same], example[same]), $"{status} {same}: live {answer[same]?.ToJsonString()}, example {example[same]?.ToJsonString()}");
            Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$", (string)example["traceId"]!);
            Assert.False(string.IsNullOrEmpty((string?)example["requestId"]));
        }
    }

    [Fact]
    public void SchemaThatDisagreesWithTheBody_FailsValidation()
    {
        var schema = new JsonObject { ["$ref"] = "#/components/schemas/PredictRequest" };

        Assert.False(Evaluate(_document, schema, JsonNode.Parse("""{"board": ["0"]}""")).IsValid);
        Assert.False(Evaluate(_document, schema, JsonNode.Parse("""{"rle": "o!", "topK": 257}""")).IsValid);
        Assert.False(Evaluate(_document, new JsonObject { ["$ref"] = "#/components/schemas/ProblemDetails" },
            JsonNode.Parse("""{"title": "x", "status": 400, "detail": "d", "requestId": "r", "traceId": "t", "extra": 1}""")).IsValid);
        Assert.True(Evaluate(_document, schema, JsonNode.Parse("""{"rle": "o!", "topK": 256}""")).IsValid);
        var line = Response("/rollout", "post", HttpStatusCode.OK)["content"]!["application/x-ndjson"]!["schema"]!;
        string rows = new JsonArray([.. GliderRows.Select(row => JsonValue.Create(row))]).ToJsonString();
        Assert.True(Evaluate(_document, line, JsonNode.Parse($$"""{"type": "generation", "step": 1, "board": {{rows}}, "rule": {{rows}}, "mismatches": [], "matchesRule": true, "firstDivergence": null, "model": "m", "modelVersion": "0123456789ab"}""")).IsValid);
        Assert.False(Evaluate(_document, line, JsonNode.Parse($$"""{"type": "generation", "step": 1, "board": ["01"], "rule": {{rows}}, "mismatches": [], "matchesRule": true, "firstDivergence": null, "model": "m", "modelVersion": "0123456789ab"}""")).IsValid);
        Assert.False(Evaluate(_document, line, JsonNode.Parse($$"""{"type": "generation", "step": 1, "board": {{rows}}, "rule": {{rows}}, "mismatches": [[32, 0]], "matchesRule": false, "firstDivergence": 1, "model": "m", "modelVersion": "0123456789ab"}""")).IsValid);
        Assert.True(Evaluate(_document, line, JsonNode.Parse("""{"type": "end", "reason": "completed", "steps": 3, "firstDivergence": null}""")).IsValid);
        Assert.False(Evaluate(_document, line, JsonNode.Parse("""{"type": "end", "reason": "gone", "steps": 3, "firstDivergence": null}""")).IsValid);
        Assert.False(Evaluate(_document, line, JsonNode.Parse("""{"type": "end", "reason": "completed", "steps": 3, "firstDivergence": null, "problem": null}""")).IsValid);
    }

    private static IEnumerable<(string Path, string Method, JsonNode Operation)> Operations(JsonNode document) =>
        from path in document["paths"]!.AsObject()
        from operation in path.Value!.AsObject()
        select (path.Key, operation.Key, operation.Value!);

    /// <summary>Every request and response example in the document, with the schema it is an example of.</summary>
    private static IEnumerable<(string What, JsonNode Schema, JsonNode Example)> Examples(JsonNode document)
    {
        foreach (var (path, method, operation) in Operations(document))
        {
            foreach (var (status, response) in operation["responses"]!.AsObject())
                foreach (var (_, media) in response!["content"]?.AsObject() ?? [])
                {
                    if (media!["example"] is { } example)
                        yield return ($"{method} {path} {status} example", media["schema"]!, example);
                    foreach (var (name, named) in media["examples"]?.AsObject() ?? [])
                        yield return ($"{method} {path} {status} example {name}", media["schema"]!, named!["value"]!);
                }
            foreach (var (_, media) in operation["requestBody"]?["content"]?.AsObject() ?? [])
                if (media!["example"] is { } request)
                    yield return ($"{method} {path} request example", media["schema"]!, request);
        }
    }

    private static Task<HttpResponseMessage> Unkeyed(HttpClient client, string path)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Json(new { board = GliderRows }) };
        request.Headers.Add("X-Api-Key", "a-wrong-key-but-long-enough");
        return client.SendAsync(request);
    }

    private JsonNode Response(string path, string method, HttpStatusCode status) => Response(_document, path, method, status);

    private static JsonNode Response(JsonNode document, string path, string method, HttpStatusCode status) =>
        document["paths"]![path]![method]!["responses"]![((int)status).ToString()]
        ?? throw new Xunit.Sdk.XunitException($"{method} {path} does not document {(int)status}");

    private Task AssertMatches(HttpResponseMessage response, JsonNode documented, string what) => AssertMatches(response, documented, what, _document);

    private static async Task AssertMatches(HttpResponseMessage response, JsonNode documented, string what, JsonNode document)
    {
        string media = response.Content.Headers.ContentType?.MediaType ?? "";
        var schema = documented["content"]?[media]?["schema"] ?? throw new Xunit.Sdk.XunitException($"{what}: no schema for {media}");
        AssertValid(document, schema, JsonNode.Parse(await response.Content.ReadAsStringAsync()), what);
        foreach (var (name, header) in documented["headers"]?.AsObject() ?? [])
        {
            var declared = Resolve(document, header!);
            if ((bool?)declared["required"] == true)
                Assert.True(response.Headers.Contains(name) || response.Content.Headers.Contains(name), $"{what}: no {name} header");
        }
    }

    private static JsonNode Resolve(JsonNode document, JsonNode node) =>
        node["$ref"] is { } reference
            ? ((string)reference!).TrimStart('#', '/').Split('/').Aggregate(document, (at, segment) => at[segment.Replace("~1", "/").Replace("~0", "~")]!)
            : node;

    private static void AssertValid(JsonNode document, JsonNode schema, JsonNode? body, string what)
    {
        var results = Evaluate(document, schema, body);
        Assert.True(results.IsValid, $"{what}: the body does not match the documented schema: " +
            string.Join("; ", (results.Details ?? []).Where(detail => detail.Errors is { Count: > 0 })
                .SelectMany(detail => detail.Errors!.Select(error => $"{detail.InstanceLocation} {error.Key}: {error.Value}"))) + $" -- body: {body?.ToJsonString()}");
    }

    /// <summary>The OpenAPI schema as JSON Schema 2020-12, with the document's component schemas as its $defs.</summary>
    private static EvaluationResults Evaluate(JsonNode document, JsonNode schema, JsonNode? body)
    {
        var root = new JsonObject
        {
            ["$schema"] = "https://json-schema.org/draft/2020-12/schema",
            ["$defs"] = document["components"]!["schemas"]!.DeepClone(),
            ["allOf"] = new JsonArray(schema.DeepClone()),
        };
        var json = JsonSchema.FromText(root.ToJsonString().Replace("#/components/schemas/", "#/$defs/", StringComparison.Ordinal));
        return json.Evaluate(body, new EvaluationOptions { OutputFormat = OutputFormat.List });
    }
}
