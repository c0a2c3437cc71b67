using System.Net;
using System.Text.Json.Nodes;
using Conway.Api.Serving;
using Microsoft.Extensions.Options;
using static Conway.Api.Tests.Given;

namespace Conway.Api.Tests;

/// <summary>Several models side by side (Model:Models): configuration, <c>GET /models</c>, picking one per request, readiness and metrics.</summary>
public sealed class ModelRegistryTests : IDisposable
{
    private readonly FileModels _files = new();

    public void Dispose() => _files.Dispose();

    private ApiFactory TwoModels(string otherWeights = "weights of b", params (string Key, string Value)[] more)
    {
        var api = new ApiFactory
        {
            LoadModel = _files.Load,
            Settings =
            {
                ["Model:Models:alpha:Path"] = _files.Write("alpha.safetensors", "weights of a"),
                ["Model:Models:alpha:Default"] = "true",
                ["Model:Models:beta:Path"] = _files.Write("beta.pt", otherWeights),
            },
        };
        foreach (var (key, value) in more) api.Settings[key] = value;
        return api;
    }

    [Fact]
    public async Task GetModels_ListsEachModel_DefaultFirst_WithFileHashParametersDtypeDevicesAndTheCardsAccuracy()
    {
        await using var api = TwoModels();
        File.WriteAllText(Path.Combine(_files.Folder, "alpha.train.json"),
            $$"""{"steps": 2100, "heldOutTeacherForced": {"Cells": 0.99999, "Boards": 0.996}, "sha256": "{{api.Predictor.Info.Sha256}}"}""");
        var client = await api.StartAsync();

        var models = (await BodyOf(await client.GetAsync("/models")))["models"]!.AsArray();

        Assert.Equal(["alpha", "beta"], models.Select(model => (string)model!["name"]!));
        var alpha = models[0]!;
        Assert.True((bool)alpha["default"]!);
        Assert.Equal("ready", (string)alpha["state"]!);
        Assert.Equal("alpha.safetensors", (string)alpha["file"]!);
        Assert.Equal(FileModels.Version("weights of a"), (string)alpha["version"]!);
        Assert.Equal("weights of a".Length, (long)alpha["parameters"]!);
        Assert.Equal("none", (string)alpha["dtype"]!);
        Assert.Equal("cpu", (string)alpha["devices"]![0]!["device"]!);
        Assert.Equal(2100, (int)alpha["card"]!["steps"]!);
        Assert.Equal(0.996, (double)alpha["card"]!["heldOutBoards"]!);
        Assert.False((bool)alpha["card"]!["matchesWeights"]!);           // the card records other weights' hash
        Assert.DoesNotContain(_files.Folder, models.ToJsonString());      // file names, never paths
        Assert.False((bool)models[1]!["default"]!);
        Assert.Equal("beta.pt", (string)models[1]!["file"]!);
        Assert.Null(models[1]!["card"]);
    }

    [Fact]
    public async Task Predictions_UseTheNamedModel_OrTheDefault_AndSayWhichAnsweredInBodyHeaderAndMetrics()
    {
        await using var api = TwoModels();
        var client = await api.StartAsync();

        var byDefault = await client.PostAsync("/predict", Json(new { board = Glider.ToRows() }));
        var byName = await client.PostAsync("/predict/batch", Json(new { boards = new[] { Glider.ToRows(), Blinker.ToRows() }, model = "BETA" }));

        Assert.Equal(HttpStatusCode.OK, byDefault.StatusCode);
        Assert.Equal($"alpha@{FileModels.Version("weights of a")}", byDefault.Headers.GetValues("X-Model-Version").Single());
        Assert.Equal("alpha", (string)(await BodyOf(byDefault))["model"]!);
        Assert.Equal(HttpStatusCode.OK, byName.StatusCode);
        Assert.Equal($"beta@{FileModels.Version("weights of b")}", byName.Headers.GetValues("X-Model-Version").Single());
        Assert.All((await BodyOf(byName))["results"]!.AsArray(), result => Assert.Equal("beta", (string)result!["model"]!));
        Assert.Equal([Glider, Blinker], _files.BoardsPredictedBy("weights of b").TakeLast(2));
        string metrics = await (await client.GetAsync("/metrics")).Content.ReadAsStringAsync();
        Assert.Contains("conway_boards_predicted_total{device=\"cpu\",model=\"alpha\"} 1", metrics);
        Assert.Contains("conway_boards_predicted_total{device=\"cpu\",model=\"beta\"} 2", metrics);
        Assert.Contains("conway_rule_agreement_boards_total{model=\"beta\",result=\"match\"} 2", metrics);
    }

    [Fact]
    public async Task UnknownModel_Is400NamingTheField_AndListingTheModelsServed_WithoutRepeatingTheName()
    {
        await using var api = TwoModels();
        var client = await api.StartAsync();

        var response = await client.PostAsync("/predict", Json(new { board = Glider.ToRows(), model = "gamma-secret" }));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = await BodyOf(response);
        Assert.Equal("No model has that name; the models served are: alpha, beta.", (string)body["errors"]!["model"]![0]!);
        Assert.DoesNotContain("gamma-secret", body.ToJsonString());
        Assert.Empty(_files.BoardsPredictedBy("weights of a").Skip(2));   // only the self-test's blinker and glider
    }

    [Fact]
    public async Task AModelThatFailsItsSelfTest_LeavesTheInstanceReadyOnTheDefault_ReadinessAndModelsSayWhy_ItsRequestsGet503()
    {
        await using var api = TwoModels(otherWeights: "inexact");
        var client = await api.StartAsync();

        var ready = await client.GetAsync("/healthz/ready");
        var models = (await BodyOf(await client.GetAsync("/models")))["models"]!.AsArray();
        var refused = await client.PostAsync("/predict", Json(new { board = Glider.ToRows(), model = "beta" }));

        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        var states = (await BodyOf(ready))["checks"]!["model"]!["data"]!["models"]!.AsArray();
        Assert.Equal(["ready", "failed"], states.Select(model => (string)model!["state"]!));
        Assert.Equal("failed", (string)models[1]!["state"]!);
        Assert.Equal("Model beta failed its self-test on cpu: blinker, glider differ from the rule.", (string)models[1]!["devices"]![0]!["problem"]!);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Contains("Model beta failed to load or its self-test", (string)(await BodyOf(refused))["detail"]!);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/predict", Json(new { board = Glider.ToRows() }))).StatusCode);
    }

    [Fact]
    public async Task WithoutModelsConfigured_TheOneModelIsModelPath_NamedByItsFileName()
    {
        await using var api = new ApiFactory();
        var client = await api.StartAsync();

        var models = (await BodyOf(await client.GetAsync("/models")))["models"]!.AsArray();

        var model = Assert.Single(models)!;
        Assert.Equal("rule-predictor-test-double", (string)model["name"]!);
        Assert.True((bool)model["default"]!);
        Assert.Equal(RulePredictor.Sha256, (string)model["sha256"]!);
    }

    [Theory]
    [InlineData("a", "b", false, false, "Mark exactly one of Model:Models (a, b) with Default = true; none is.")]
    [InlineData("a", "b", true, true, "Mark exactly one of Model:Models (a, b) with Default = true; a, b are.")]
    [InlineData("a b", "c", true, false, "Model:Models:a b: a model's name is 1 to 64 letters, digits")]
    public async Task InvalidModelsConfiguration_StopsTheServiceAtStartup_SayingWhatIsWrong(string first, string second, bool firstDefault, bool secondDefault, string message)
    {
        await using var api = new ApiFactory
        {
            LoadModel = _files.Load,
            Settings =
            {
                [$"Model:Models:{first}:Path"] = _files.Write("one", "weights"),
                [$"Model:Models:{first}:Default"] = firstDefault.ToString(),
                [$"Model:Models:{second}:Path"] = _files.Write("two", "weights"),
                [$"Model:Models:{second}:Default"] = secondDefault.ToString(),
            },
        };

        var thrown = Record.Exception(() => api.CreateClient());

        var error = thrown as OptionsValidationException
            ?? api.Logs.AtLeast(LogLevel.Error).Select(entry => entry.Error).OfType<OptionsValidationException>().FirstOrDefault();
        Assert.NotNull(error);
        Assert.Contains(message, error.Message);
    }
}
