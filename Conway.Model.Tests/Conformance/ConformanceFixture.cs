using System.Text.Json;
using Conway.Boards;
using Conway.Decoding;

namespace Conway.Model.Tests.Conformance;

/// <summary>
/// The reference library's under-trained checkpoint (x-transformers 1.27.21, bfloat16) and its exact greedy outputs
/// for four boards (shared/data/conformance). The model errs on purpose, so matching it proves the port, not the rule.
/// </summary>
public sealed class ConformanceFixture : IDisposable
{
    /// <summary>
    /// How far P(alive) may lie from the reference library's: the port's worst difference on the four boards is ~1e-5
    /// (float32 on this CPU, summed in another order); a tenth of a percent would hide a real error.
    /// </summary>
    public const float PAliveTolerance = 1e-4f;

    public static string CheckpointPath => SharedData.Path("data", "conformance", "lifegpt-xt1.27.21-undertrained.pt");

    public ConformanceFixture()
    {
        if (SharedData.Root is null) return;
        Predictor = LifeGptPredictor.Load(CheckpointPath, "cpu");
        using var golden = JsonDocument.Parse(File.ReadAllText(SharedData.Path("data", "conformance", "xt-golden.json")));
        Cases = golden.RootElement.GetProperty("boards").EnumerateArray().Select(b => new GoldenCase(
            Board.FromCells(b.GetProperty("initial").GetString()),
            Board.FromCells(b.GetProperty("xt_cells").GetString()),
            Board.FromCells(b.GetProperty("truth").GetString()),
            b.GetProperty("wrong_vs_truth").GetInt32(),
            b.GetProperty("p_alive").EnumerateArray().Select(p => p.GetSingle()).ToArray())).ToArray();
    }

    public LifeGptPredictor Predictor { get; } = null!;
    public GoldenCase[] Cases { get; } = [];
    public Board[] Initial => Cases.Select(c => c.Initial).ToArray();

    public void Dispose() => Predictor?.Dispose();
}

public sealed record GoldenCase(Board Initial, Board Reference, Board Truth, int WrongVsTruth, float[] PAlive);
