using System.Text.Json;
using System.Text.Json.Nodes;
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

/// <summary>
/// OpenAPI examples of <c>/rollout</c>: a blinker for 2 steps, and the lines of its rollout by a model that steps like
/// the rule, made by the same code as the live lines; in the event stream as it is framed.
/// </summary>
internal static class RolloutExamples
{
    private const int Steps = 2;
    private static readonly Board Blinker = Board.Empty.With(1, 0, true).With(1, 1, true).With(1, 2, true);

    public static Task Apply(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken _)
    {
        var json = context.ApplicationServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        var request = new RolloutRequest { Board = Blinker.ToRows(), Steps = Steps };
        operation.RequestBody?.Content?["application/json"].Example =
            JsonSerializer.SerializeToNode(request, new JsonSerializerOptions(json) { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull });
        string model = context.ApplicationServices.GetRequiredService<IOptions<ModelOptions>>().Value.Served()[0].Name;
        var lines = Lines(model).Select(line => (Name: line is RolloutEndLine ? "end" : "generation", Json: JsonSerializer.SerializeToNode(line, json)!)).ToList();
        if (operation.Responses?["200"].Content is not { } content) return Task.CompletedTask;
        foreach (var (media, body) in content)
            body.Examples = lines.Select((line, i) => (Key: $"{line.Name}{(line.Name == "end" ? "" : $"{i + 1}")}", line.Json))
                .ToDictionary(example => example.Key, example => (IOpenApiExample)new OpenApiExample
                {
                    Summary = media == RolloutStream.EventStream ? $"event: {example.Json["type"]}; data: this line" : "one line",
                    Value = example.Json,
                });
        return Task.CompletedTask;
    }

    /// <summary>The lines of the blinker's rollout by a model (named <paramref name="model"/>) that steps like the rule.</summary>
    private static IEnumerable<RolloutLine> Lines(string model)
    {
        var board = Blinker;
        for (int step = 1; step <= Steps; step++)
        {
            board = LifeRule.Step(board);
            var check = CheckedPrediction.Against(board, new Prediction(board, null) { Passes = 1 });
            yield return RolloutLines.Generation(new RolloutGeneration(step, check, FirstDivergence: null, model, PredictExamples.Weights));
        }
        yield return new RolloutEndLine(RolloutEnd.Completed, Steps, FirstDivergence: null);
    }
}
