using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Conway.Api.Serving;
using Conway.Boards;
using Conway.Decoding;

namespace Conway.Api.Tests;

/// <summary>
/// Checkpoint files for the registry and reload tests, in a folder of their own, and a <see cref="PredictorFactory"/>
/// that "loads" them as <see cref="RulePredictor"/> test doubles: a file's text is its weights (its SHA-256 the
/// model's hash); the text <c>corrupt</c> fails to load, <c>inexact</c> loads a model that kills every cell (it fails any
/// self-test). Every predictor loaded is kept, by the hash of what it loaded.
/// </summary>
public sealed class FileModels : IDisposable
{
    public string Folder { get; } = Directory.CreateTempSubdirectory("conway-models-").FullName;

    public ConcurrentDictionary<string, ConcurrentBag<RulePredictor>> Loaded { get; } = new();

    public string Write(string name, string weights)
    {
        string path = Path.Combine(Folder, name);
        File.WriteAllText(path, weights);
        return path;
    }

    public static string Version(string weights) => Sha256(weights)[..ModelVersion.Length];

    /// <summary>The boards every predictor loaded from <paramref name="weights"/> was called with (the self-tests' included).</summary>
    public IReadOnlyList<Board> BoardsPredictedBy(string weights) =>
        [.. Loaded.GetValueOrDefault(Sha256(weights), []).SelectMany(predictor => predictor.Calls).SelectMany(call => call.Boards)];

    public IBoardPredictor Load(ModelOptions options, string path, string device)
    {
        string weights = File.ReadAllText(path);
        if (weights == "corrupt") throw new Conway.Checkpoints.CheckpointException($"'{path}' is neither a PyTorch state_dict nor a safetensors file.");
        var predictor = new RulePredictor
        {
            Info = new ModelInfo(path, Sha256(weights), weights.Length, "none", device, TimeSpan.FromMilliseconds(1), "none"),
            Step = weights == "inexact" ? _ => Board.Empty : LifeRule.Step,
        };
        Loaded.GetOrAdd(predictor.Info.Sha256, _ => []).Add(predictor);
        return predictor;
    }

    public void Dispose() => Directory.Delete(Folder, recursive: true);

    private static string Sha256(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}
