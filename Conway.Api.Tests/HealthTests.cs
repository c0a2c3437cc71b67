using System.Net;
using Conway.Api.Serving;
using Conway.Boards;
using static Conway.Api.Tests.Given;

namespace Conway.Api.Tests;

public sealed class HealthTests
{
    [Fact]
    public async Task Readiness_Is503WhileTheModelLoadsAnd200OnceLoaded_WhileLivenessIsAlways200()
    {
        using var loading = new ManualResetEventSlim();
        var predictor = new RulePredictor();
        await using var api = new ApiFactory
        {
            LoadModel = (_, _, _) =>
            {
                loading.Wait(TimeSpan.FromSeconds(30));
                return predictor;
            },
        };
        var client = api.CreateClient();
        try
        {
            var notReady = await client.GetAsync("/healthz/ready");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, notReady.StatusCode);
            var body = await BodyOf(notReady);
            Assert.Equal("unhealthy", (string)body["status"]!);
            Assert.Equal("The model is loading.", (string)body["checks"]!["model"]!["description"]!);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz/live")).StatusCode);

            loading.Set();
            await Eventually(() => api.ModelHost.State == ModelState.Ready, "the model is loaded");

            var ready = await client.GetAsync("/healthz/ready");
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
            Assert.Equal("application/json", ready.Content.Headers.ContentType?.MediaType);
            body = await BodyOf(ready);
            Assert.Equal("healthy", (string)body["status"]!);
            var model = body["checks"]!["model"]!["data"]!;
            Assert.Equal(RulePredictor.Sha256, (string)model["sha256"]!);
            Assert.Equal(1234, (long)model["parameters"]!);
            Assert.Equal("closed", (string)model["circuit"]!);
            var device = Assert.Single(model["devices"]!.AsArray())!;
            Assert.Equal("cpu", (string)device["device"]!);
            Assert.Equal("ready", (string)device["state"]!);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz/live")).StatusCode);
            Assert.Empty(api.Logs.AtLeast(LogLevel.Error));
        }
        finally
        {
            loading.Set();
        }
    }

    [Fact]
    public async Task Readiness_NamesTheModelByFileNameAndHash_NeverByItsPath()
    {
        var predictor = new RulePredictor { Info = new RulePredictor().Info with { Path = "/srv/conway/models/lifegpt-v3.safetensors" } };
        await using var api = new ApiFactory { Predictor = predictor };
        var client = await api.StartAsync();

        var ready = await client.GetAsync("/healthz/ready");

        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        string text = await ready.Content.ReadAsStringAsync();
        Assert.DoesNotContain("/srv/conway", text);
        Assert.DoesNotContain("models/", text);
        var model = (await BodyOf(ready))["checks"]!["model"]!["data"]!;
        Assert.Equal("lifegpt-v3.safetensors", (string)model["file"]!);
        Assert.Equal(RulePredictor.Sha256[..12], (string)model["version"]!);
        Assert.Equal(RulePredictor.Sha256, (string)model["sha256"]!);
        Assert.Null(model["path"]);
    }

    [Fact]
    public async Task FailedModelLoad_KeepsReadiness503AndPredictAnswers503()
    {
        await using var api = new ApiFactory { LoadModel = (_, _, _) => throw new FileNotFoundException("No checkpoint at /models/missing.pt") };
        var client = api.CreateClient();
        await Eventually(() => api.ModelHost.State == ModelState.Failed, "the load has failed");

        var ready = await client.GetAsync("/healthz/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Contains("failed to load", (string)(await BodyOf(ready))["checks"]!["model"]!["description"]!);

        var predict = await client.PostAsync("/predict", Json(new { board = Glider.ToRows() }));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, predict.StatusCode);
        Assert.Equal("application/problem+json", predict.Content.Headers.ContentType?.MediaType);
        string problem = await predict.Content.ReadAsStringAsync();
        Assert.Contains("failed to load", problem);
        Assert.DoesNotContain("/models/missing.pt", problem);
    }

    [Fact]
    public async Task ModelLoad_LogsWhatWasLoaded_AndTheKernelsItDecodesOn()
    {
        await using var api = new ApiFactory();
        api.CreateClient();
        await Eventually(() => api.ModelHost.State == ModelState.Ready, "the model is loaded");

        var loaded = Assert.Single(api.Logs.AtLeast(LogLevel.Information), entry => entry.Message.StartsWith("Loaded model"));
        Assert.Contains(api.Predictor.Info.Path, loaded.Message);
        Assert.Contains(RulePredictor.Sha256, loaded.Message);
        Assert.Contains("1,234 parameters, none on cpu, decoding on no kernels (a test double), in 5 ms", loaded.Message);
    }

    [Fact]
    public async Task ModelThatFailsItsSelfTest_NeverBecomesReady_AndPredictAnswers503()
    {
        var predictor = new RulePredictor { Step = board => board.Equals(Patterns.Named["toad"]) ? board : LifeRule.Step(board) };
        await using var api = new ApiFactory { Predictor = predictor, Settings = { ["Model:SelfTestPatterns"] = "all" } };
        var client = api.CreateClient();
        await Eventually(() => api.ModelHost.State == ModelState.Failed, "the self-test has failed");

        var ready = await client.GetAsync("/healthz/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Equal("Model rule-predictor-test-double failed its self-test on cpu: toad differ from the rule.", (string)(await BodyOf(ready))["checks"]!["model"]!["description"]!);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.PostAsync("/predict", Json(new { board = Glider.ToRows() }))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz/live")).StatusCode);
        var selfTest = Assert.Single(predictor.Calls);
        Assert.Equal(Patterns.Names.Select(name => Patterns.Named[name]), selfTest.Boards);
    }

    [Fact]
    public async Task SelfTest_UsesTheConfiguredPatterns_AsTheWarmUpPredict()
    {
        await using var api = new ApiFactory { Settings = { ["Model:SelfTestPatterns"] = "glider, pulsar" } };
        api.CreateClient();
        await Eventually(() => api.ModelHost.State == ModelState.Ready, "the model is ready");

        Assert.Equal([Patterns.Named["glider"], Patterns.Named["pulsar"]], Assert.Single(api.Predictor.Calls).Boards);
        var device = Assert.Single(api.ModelHost.Devices);
        Assert.NotNull(device.Models[0].WarmUpMs);
    }

    [Fact]
    public async Task Liveness_NeverTouchesTheModel_EvenWhileItIsBusy()
    {
        using var gate = new ManualResetEventSlim();
        await using var api = new ApiFactory();
        var client = await api.StartAsync();
        api.Predictor.Gate = gate;
        try
        {
            var busy = client.PostAsync("/predict", Json(new { board = Glider.ToRows() }));
            await Eventually(() => api.Predictor.Calls.Count == 1, "the model is busy");

            for (int i = 0; i < 3; i++) Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz/live")).StatusCode);
            Assert.Single(api.Predictor.Calls);
            gate.Set();
            Assert.Equal(HttpStatusCode.OK, (await busy).StatusCode);
        }
        finally
        {
            gate.Set();
        }
    }
}
