using Conway.Api.Contracts;
using Conway.Api.Http;
using Conway.Api.Security;
using Conway.Api.Serving;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Conway.Api.Endpoints;

public static class ModelEndpoints
{
    public static IEndpointRouteBuilder MapModelEndpoints(this IEndpointRouteBuilder app)
    {
        var models = app.MapGroup("/models").WithTags("Models");

        models.MapGet("", List)
            .RequireApiKey(app)
            .WithName("ListModels")
            .WithSummary("The models this instance serves")
            .WithDescription("Each model's name (what `\"model\"` in a prediction picks), whether it is the default, its state, the file, " +
                "hash, parameter count and dtype of the weights in use, its state on each device, the accuracy summary of the model " +
                "card beside its file (`<name>.train.json`, written by `conway train --export`), and how its last reload ended.");

        models.MapPost("/{name}/reload", ReloadAsync)
            .RequireAdministration(app)
            .WithName("ReloadModel")
            .WithSummary("Reload a model's checkpoint without dropping a request")
            .WithDescription("Every device loads and self-tests the checkpoint at the model's path beside the weights in use; if all " +
                "succeed new requests get the new weights (requests already started finish on the old), else the old weights go on " +
                "serving and the answer is 422 saying why. Also happens by itself when the file changes (Model:WatchFiles). " +
                "Needs an API key: without configured keys (Auth:ApiKeys) it is refused with 403.")
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        return app;
    }

    public static Ok<ModelsResponse> List(ModelHost host) =>
        TypedResults.Ok(new ModelsResponse([.. host.Served.Select(model => Describe(host, model))]));

    public static async Task<Results<Ok<ModelReload>, ProblemHttpResult>> ReloadAsync(string name, ModelHost host, HttpResponse response, CancellationToken cancellation)
    {
        if (host.Find(name) is not { } model) return UnknownModel(host.Served);
        if (!host.Admitting || host.State == ModelState.Loading)
            return ServingProblems.Unavailable(response, host.Admitting ? ModelUnavailableException.Loading() : ModelUnavailableException.ShuttingDown());
        var outcome = await host.ReloadAsync(model.Name, "api", cancellation);
        return outcome.Swapped ? TypedResults.Ok(Reload(outcome)) : NotReloaded(outcome.Problem!);
    }

    /// <summary>404: the path names no served model.</summary>
    public static ProblemHttpResult UnknownModel(IEnumerable<ModelSpec> served) => Problems.Status(StatusCodes.Status404NotFound,
        $"No model has that name; the models served are: {string.Join(", ", served.Select(model => model.Name))}.");

    /// <summary>422: the new weights did not load or pass the self-test; <paramref name="problem"/> says which.</summary>
    public static ProblemHttpResult NotReloaded(string problem) =>
        Problems.Status(StatusCodes.Status422UnprocessableEntity, $"Nothing was reloaded; the weights in use go on serving. {problem}");

    private static ModelDescription Describe(ModelHost host, ModelSpec model)
    {
        var info = host.Info(model.Name);
        var card = ModelCard.Beside(model.Path);
        return new ModelDescription(
            model.Name, model.IsDefault, host.StateOf(model.Name).ToString().ToLowerInvariant(), Path.GetFileName(model.Path),
            info?.Sha256, info is null ? null : ModelVersion.Of(info), info?.Parameters, info?.DType,
            [.. host.Devices.Select(device => (device.Device, Status: device.Models.First(status => status.Model == model.Name)))
                .Select(on => new ModelDeviceState(on.Device, on.Status.State.ToString().ToLowerInvariant(), on.Status.Problem))],
            card is null ? null : new ModelCardSummary(card.Steps, card.HeldOutCells, card.HeldOutBoards,
                info is null || card.Sha256 is null ? null : string.Equals(card.Sha256, info.Sha256, StringComparison.OrdinalIgnoreCase)),
            host.LastReload(model.Name) is { } reload ? Reload(reload) : null);
    }

    private static ModelReload Reload(ReloadOutcome outcome) => new(outcome.Trigger, outcome.At, outcome.Swapped, outcome.Version, outcome.Problem);
}
