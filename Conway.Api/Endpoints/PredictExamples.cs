using System.Text.Json;
using System.Text.Json.Serialization;
using Conway.Api.Contracts;
using Conway.Api.Serving;
using Conway.Boards;
using Conway.Decoding;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;
using JsonOptions = Microsoft.AspNetCore.Http.Json.JsonOptions;

namespace Conway.Api.Endpoints;

/// <summary>OpenAPI request/response examples: a glider (and, for the batch, a blinker) and their next states.</summary>
internal static class PredictExamples
{
    /// <summary>What the examples' model loaded.</summary>
    public static readonly ModelInfo Weights = new("lifegpt.safetensors", "3f5a9c0e1b2d" + new string('0', 52), 12_717_056, "BFloat16", "cuda:0", TimeSpan.Zero, "fused kernels");
    private static readonly TimeSpan Elapsed = TimeSpan.FromMilliseconds(1.8);

    internal static readonly Board Glider = Board.Empty.With(0, 1, true).With(1, 2, true).With(2, 0, true).With(2, 1, true).With(2, 2, true);
    internal static readonly Board Blinker = Board.Empty.With(1, 0, true).With(1, 1, true).With(1, 2, true);

    public static Task Single(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken _) =>
        Apply(operation, context,
            new PredictRequest { Board = Glider.ToRows() },
            PredictResponses.Single(RuleCheck(Glider), DecodeStrategy.Speculative, Result(context, [RuleCheck(Glider)])));

    public static Task Batch(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken _) =>
        Apply(operation, context,
            new PredictBatchRequest { Boards = [Glider.ToRows(), Blinker.ToRows()] },
            PredictResponses.Batch(DecodeStrategy.Speculative, Result(context, [RuleCheck(Glider), RuleCheck(Blinker)])));

    /// <summary>The answer of the default model (as the running service names it) with <paramref name="checks"/>.</summary>
    private static PredictionResult Result(OpenApiOperationTransformerContext context, IReadOnlyList<CheckedPrediction> checks) =>
        new(checks, context.ApplicationServices.GetRequiredService<IOptions<ModelOptions>>().Value.Served()[0].Name, Weights, TimeSpan.Zero, Elapsed, Elapsed);

    /// <summary>The check of a prediction that is the rule's next state.</summary>
    private static CheckedPrediction RuleCheck(Board board) => CheckedPrediction.Of(board, new Prediction(LifeRule.Step(board), null));

    private static Task Apply<TRequest, TResponse>(
        OpenApiOperation operation, OpenApiOperationTransformerContext context, TRequest request, TResponse response)
    {
        var json = new JsonSerializerOptions(context.ApplicationServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions)
        {
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        };
        operation.RequestBody?.Content?["application/json"].Example = JsonSerializer.SerializeToNode(request, json);
        operation.Responses?["200"].Content?["application/json"].Example = JsonSerializer.SerializeToNode(response, json);
        return Task.CompletedTask;
    }
}
