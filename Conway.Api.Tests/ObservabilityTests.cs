using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Conway.Boards;
using static Conway.Api.Tests.Given;

namespace Conway.Api.Tests;

/// <summary>/metrics, Server-Timing, request ids in responses, problem details and logs.</summary>
public sealed partial class ObservabilityTests
{
    [Fact]
    public async Task Metrics_ArePrometheusText_WithRequestsLatenciesBatchesQueueBoardsAndRuleAgreement()
    {
        await using var api = new ApiFactory();
        var client = await api.StartAsync();
        api.Predictor.Step = board => board.Equals(Blinker) ? board.With(9, 9, true) : LifeRule.Step(board);
        await client.PostAsync("/predict/batch", Json(new { boards = new[] { Glider.ToRows(), Blinker.ToRows(), Block.ToRows() } }));
        await client.PostAsync("/predict", Json(new { board = "nope" }));

        var response = await client.GetAsync("/metrics");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.ToString());
        string text = await response.Content.ReadAsStringAsync();
        Assert.Equal(3, MetricValue(text, "conway_boards_predicted_total{device=\"cpu\",model=\"rule-predictor-test-double\"}"));
        Assert.Equal(2, MetricValue(text, "conway_rule_agreement_boards_total{model=\"rule-predictor-test-double\",result=\"match\"}"));
        Assert.Equal(1, MetricValue(text, "conway_rule_agreement_boards_total{model=\"rule-predictor-test-double\",result=\"mismatch\"}"));
        Assert.Equal(5, MetricValue(text, "conway_rule_mismatched_cells_total{model=\"rule-predictor-test-double\"}"));
        Assert.Equal(0, MetricValue(text, "conway_queue_depth"));
        Assert.Equal(0, MetricValue(text, "conway_circuit_open"));
        Assert.Equal(1, MetricValue(text, "conway_batch_boards_count"));
        Assert.Equal(1, MetricValue(text, "conway_queue_wait_seconds_count"));
        Assert.Equal(1, MetricValue(text, "conway_inference_seconds_count{device=\"cpu\",model=\"rule-predictor-test-double\"}"));
        Assert.Equal(1, MetricValue(text, "http_requests_received_total{code=\"200\",method=\"POST\",controller=\"\",action=\"\",endpoint=\"/predict/batch\"}"));
        Assert.Equal(1, MetricValue(text, "http_requests_received_total{code=\"400\",method=\"POST\",controller=\"\",action=\"\",endpoint=\"/predict/\"}"));
        Assert.Contains("http_request_duration_seconds_bucket{", text);
        Assert.Contains("process_working_set_bytes", text);
    }

    [Fact]
    public async Task MadeUpMethods_AreOneOtherLabel_SoMetricsStayTheSameSize()
    {
        await using var api = new ApiFactory();
        var client = await api.StartAsync();
        var random = new Random(499);
        var methods = Enumerable.Range(0, 200).Select(_ => "M" + new string(random.GetItems<char>("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 11))).ToList();
        await client.SendAsync(new HttpRequestMessage(new HttpMethod("WARMUP"), "/predict"));
        int before = (await client.GetStringAsync("/metrics")).Length;

        foreach (string method in methods)
            Assert.Equal(HttpStatusCode.MethodNotAllowed, (await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), "/predict"))).StatusCode);

        string after = await client.GetStringAsync("/metrics");
        Assert.InRange(after.Length - before, -1024, 1024);
        Assert.DoesNotContain(methods, method => after.Contains(method, StringComparison.Ordinal));
        Assert.Equal(201, MetricValue(after, "http_requests_received_total{code=\"405\",method=\"OTHER\",controller=\"\",action=\"\",endpoint=\"\"}"));
    }

    [Fact]
    public async Task ClientThatHangsUpWhileTheModelWorks_IsCounted499_Not200()
    {
        using var gate = new ManualResetEventSlim();
        await using var api = new ApiFactory().OnLoopback();
        var client = await api.StartAsync();
        api.Predictor.Gate = gate;
        try
        {
            using var hangUp = new CancellationTokenSource();
            using var caller = api.CreateLoopbackClient();
            var abandoned = caller.PostAsync("/predict", Json(new { board = Glider.ToRows() }), hangUp.Token);
            await Eventually(() => api.Predictor.Calls.Count == 1, "the model holds the request");

            await hangUp.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);

            const string Closed = "http_requests_received_total{code=\"499\",method=\"POST\",controller=\"\",action=\"\",endpoint=\"/predict/\"}";
            string metrics = "";
            for (var deadline = DateTime.UtcNow.AddSeconds(10); !metrics.Contains(Closed + " ") && DateTime.UtcNow < deadline; await Task.Delay(20))
                metrics = await client.GetStringAsync("/metrics");
            Assert.Equal(1, MetricValue(metrics, Closed));
            Assert.DoesNotContain("code=\"200\",method=\"POST\"", metrics);
        }
        finally
        {
            gate.Set();
        }
    }

    [Fact]
    public async Task Predict_AnswersServerTimingWithQueueInferenceAndTotal()
    {
        await using var api = new ApiFactory();
        var client = await api.StartAsync();
        api.Predictor.Delay = TimeSpan.FromMilliseconds(30);

        var response = await client.PostAsync("/predict", Json(new { board = Glider.ToRows() }));

        var timing = ServerTiming().Match(response.Headers.GetValues("Server-Timing").Single());
        Assert.True(timing.Success);
        double queue = Ms(timing, "queue"), inference = Ms(timing, "inference"), total = Ms(timing, "total");
        Assert.InRange(inference, 30, 5000);
        Assert.InRange(queue + inference, 0, total);
        Assert.Equal(total, (double)(await BodyOf(response))["elapsedMs"]!, 0.1);
    }

    [Theory]
    [InlineData("client-id-42", "client-id-42")]
    [InlineData("has spaces", null)]
    [InlineData(null, null)]
    public async Task RequestId_IsTheClientsWhenSane_EchoedAndInProblemDetails(string? sent, string? expected)
    {
        await using var api = new ApiFactory();
        var request = new HttpRequestMessage(HttpMethod.Post, "/predict") { Content = Json("{}") };
        if (sent is not null) request.Headers.Add("X-Request-Id", sent);

        var response = await api.CreateClient().SendAsync(request);

        string echoed = response.Headers.GetValues("X-Request-Id").Single();
        if (expected is not null) Assert.Equal(expected, echoed);
        else Assert.NotEqual(sent, echoed);
        Assert.False(string.IsNullOrWhiteSpace(echoed));
        Assert.Equal(echoed, (string)(await BodyOf(response))["requestId"]!);
    }

    [Fact]
    public async Task Logs_CarryTheRequestId_InTheirScopeAndInTheModelHostsFailureLog()
    {
        await using var api = new ApiFactory();
        var client = await api.StartAsync();
        api.Predictor.Fault = _ => new InvalidOperationException("broken");
        var request = new HttpRequestMessage(HttpMethod.Post, "/predict") { Content = Json(new { board = Glider.ToRows() }) };
        request.Headers.Add("X-Request-Id", "trace-me-7");

        Assert.Equal(HttpStatusCode.InternalServerError, (await client.SendAsync(request)).StatusCode);

        var errors = api.Logs.AtLeast(LogLevel.Error).ToList();
        Assert.Contains(errors, entry => entry.Category.EndsWith("ModelHost") && entry.Message.Contains("trace-me-7"));
        Assert.Contains(errors, entry => entry.Category.Contains("ExceptionHandler") && Equals(entry.Scopes.GetValueOrDefault("RequestId"), "trace-me-7"));
    }

    private static double Ms(Match timing, string name) => double.Parse(timing.Groups[name].Value, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^queue;dur=(?<queue>[\d.]+), inference;dur=(?<inference>[\d.]+), total;dur=(?<total>[\d.]+)$")]
    private static partial Regex ServerTiming();
}
