using System.Net;
using Conway.Api.Serving;
using Conway.Checkpoints;
using Conway.Testing;
using static Conway.Api.Tests.Given;

namespace Conway.Api.Tests;

/// <summary>
/// Two real checkpoints side by side on the CPU: the shipped model (our safetensors) and the reference library's
/// under-trained one in the paper's own format (<c>torch.save</c> of the state_dict, a zip pickle).
/// </summary>
public sealed class RealCheckpointsTests
{
    [SharedDataFact]
    public async Task OursAndThePapersCheckpointFormat_AreServedSideBySide_EachListedAndPickedByName()
    {
        string reference = SharedData.Path("data", "conformance", "lifegpt-xt1.27.21-undertrained.pt");
        await using var api = new ApiFactory
        {
            LoadModel = ServingExtensions.LoadLifeGpt,
            Settings =
            {
                ["Model:Models:ours:Path"] = ModelOptions.ShippedModel, ["Model:Models:ours:Default"] = "true",
                ["Model:Models:ours:SelfTestPatterns"] = "blinker",
                ["Model:Models:reference:Path"] = reference, ["Model:Models:reference:SelfTestPatterns"] = "none",
                ["Model:MaxDeadlineMs"] = "600000",   // the under-trained model needs several passes a board here
            },
        };
        var client = await api.StartAsync(seconds: 180);

        var models = (await BodyOf(await client.GetAsync("/models")))["models"]!.AsArray();
        var ours = await client.PostAsync("/predict", Json(new { board = Glider.ToRows() }));
        var theirs = await client.PostAsync("/predict", Json(new { board = Glider.ToRows(), model = "reference" }));

        Assert.Equal(["ours", "reference"], models.Select(model => (string)model!["name"]!));
        Assert.All(models, model => Assert.Equal(12_735_744, (long)model!["parameters"]!));
        // both files store bfloat16 (the reference's tensors were cast before torch.save: shared/data/conformance/README.md;
        // float32 PyTorch files are read by the same code: CheckpointTests); the CPU computes in float32
        Assert.All(models, model => Assert.Equal("BFloat16 (file), Float32 (compute)", (string)model!["dtype"]!));
        Assert.Equal(Checkpoint.Sha256(reference), (string)models[1]!["sha256"]!);
        Assert.True((bool)models[0]!["card"]!["matchesWeights"]!);   // models/lifegpt.train.json, beside the shipped file
        Assert.Null(models[1]!["card"]);
        Assert.Equal(HttpStatusCode.OK, ours.StatusCode);
        Assert.True((bool)(await BodyOf(ours))["matchesRule"]!);
        Assert.StartsWith("ours@", ours.Headers.GetValues("X-Model-Version").Single());
        Assert.Equal(HttpStatusCode.OK, theirs.StatusCode);
        Assert.Equal($"reference@{Checkpoint.Sha256(reference)[..ModelVersion.Length]}", theirs.Headers.GetValues("X-Model-Version").Single());
    }
}
