using System.Text.Json;
using Conway.Boards;
using Conway.Checkpoints;
using Conway.Decoding;

namespace Conway.Model.Tests;

/// <summary>The shipped model, loaded once on the CPU for the class.</summary>
public sealed class ShippedModelFixture : IDisposable
{
    public LifeGptPredictor Predictor { get; } = LifeGptPredictor.Load(Repository.ShippedModel, "cpu");

    public void Dispose() => Predictor.Dispose();
}

/// <summary>A fact that runs only where models/lifegpt.train.json (the model card of the shipped model) exists.</summary>
public sealed class ShippedModelCardFactAttribute : FactAttribute
{
    public ShippedModelCardFactAttribute()
    {
        if (!File.Exists(Repository.ShippedModelCard)) Skip = "no models/lifegpt.train.json to check the shipped model against";
    }
}

/// <summary>
/// The checkpoint the service ships (models/lifegpt.safetensors) predicts Life exactly. A broken, truncated or swapped
/// model file fails here, in CI, rather than in production.
/// </summary>
public sealed class ShippedModelTests(ShippedModelFixture fx) : IClassFixture<ShippedModelFixture>
{
    private static readonly Board Full = Board.FromWords(Enumerable.Repeat(uint.MaxValue, Board.Size).ToArray());

    [Fact]
    public void Shipped_model_predicts_the_exact_next_state_of_patterns_empty_full_and_random_boards_greedy_speculative()
    {
        var boards = new List<(string Name, Board Board)>
        {
            ("glider", Patterns.Named["glider"]),
            ("blinker", Patterns.Named["blinker"]),
            ("pulsar", Patterns.Named["pulsar"]),
            ("r-pentomino", Patterns.Named["r-pentomino"]),
            ("empty", Board.Empty),
            ("full", Full),
        };
        double[] densities = [0.1, 0.3, 0.5, 0.8];
        boards.AddRange(densities.Select((d, i) => ($"random {d}", Board.Random(d, new Random(1000 + i)))));

        var predictions = fx.Predictor.Predict(boards.Select(b => b.Board).ToArray(), DecodeOptions.Greedy);   // one call

        Assert.Equal(boards.Count, predictions.Count);
        Assert.Equal(Board.Empty, LifeRule.Step(Full));                  // every cell has 8 live neighbours: all die
        for (int i = 0; i < boards.Count; i++)
        {
            var expected = LifeRule.Step(boards[i].Board);
            int wrong = predictions[i].Next.CountDifferences(expected);
            Assert.True(wrong == 0, $"{boards[i].Name}: {wrong} cells differ from the rule's next state");
        }
        Assert.Null(predictions[0].PAlive);
    }

    [Fact]
    public void Shipped_model_predicts_the_glider_exactly_with_plain_autoregressive_decoding()
    {
        var glider = Patterns.Named["glider"];

        var prediction = fx.Predictor.Predict([glider], new DecodeOptions { Strategy = DecodeStrategy.Autoregressive }).Single();

        Assert.Equal(LifeRule.Step(glider), prediction.Next);
        Assert.Equal(5, prediction.Next.Population);
    }

    [ShippedModelCardFact]
    public void Shipped_model_file_has_the_sha256_recorded_in_its_model_card()
    {
        using var card = JsonDocument.Parse(File.ReadAllText(Repository.ShippedModelCard));
        string recorded = card.RootElement.GetProperty("sha256").GetString()!;

        Assert.Matches("^[0-9a-fA-F]{64}$", recorded);
        Assert.Equal(recorded, Checkpoint.Sha256(Repository.ShippedModel), ignoreCase: true);
        Assert.Equal(recorded, fx.Predictor.Info.Sha256, ignoreCase: true);
    }
}
