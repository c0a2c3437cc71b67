using System.Collections;
using System.Security.Cryptography;
using Conway.Model;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Conway.Checkpoints;

/// <summary>
/// Reads and writes LifeGPT weights. Two formats, both plain state_dicts under the reference key names:
/// PyTorch <c>torch.save(state_dict)</c> zip files (LifeGPT's own, float32/bfloat16/float16) and safetensors
/// (the project's own). The format is told by the file's first bytes, not its name.
/// </summary>
public static class Checkpoint
{
    private const string RotaryBuffer = "net.attn_layers.rotary_pos_emb.inv_freq";

    /// <summary>Reads a state_dict. The caller owns the tensors.</summary>
    public static Dictionary<string, Tensor> Read(string path)
    {
        if (!File.Exists(path)) throw new CheckpointException($"No checkpoint at '{path}'.");
        try
        {
            if (IsZip(path))
            {
                var table = PyTorchUnpickler.UnpickleStateDict(path);
                return table.Cast<DictionaryEntry>().ToDictionary(e => (string)e.Key, e => (Tensor)e.Value!);
            }
            return Safetensors.LoadStateDict(path);
        }
        catch (Exception e) when (e is not CheckpointException)
        {
            throw new CheckpointException($"'{path}' is neither a PyTorch state_dict nor a safetensors file: {e.Message}", e);
        }
    }

    /// <summary>
    /// Copies a state_dict into the model, converting dtypes. Every key must match by name and shape: all
    /// missing, unexpected and mis-shaped tensors are reported together in one error.
    /// </summary>
    public static void Apply(nn.Module model, IReadOnlyDictionary<string, Tensor> stateDict)
    {
        var expected = model.state_dict();
        var missing = expected.Keys.Where(k => !stateDict.ContainsKey(k)).ToList();
        var unexpected = stateDict.Keys.Where(k => !expected.ContainsKey(k)).ToList();
        var misShaped = expected.Where(e => stateDict.TryGetValue(e.Key, out var t) && !t.shape.SequenceEqual(e.Value.shape))
            .Select(e => $"{e.Key}: checkpoint [{string.Join(", ", stateDict[e.Key].shape)}], model [{string.Join(", ", e.Value.shape)}]")
            .ToList();
        if (missing.Count + unexpected.Count + misShaped.Count > 0)
        {
            var parts = new List<string>();
            if (missing.Count > 0) parts.Add($"missing {missing.Count}: {string.Join(", ", missing)}");
            if (unexpected.Count > 0) parts.Add($"unexpected {unexpected.Count}: {string.Join(", ", unexpected)}");
            if (misShaped.Count > 0) parts.Add($"mis-shaped {misShaped.Count}: {string.Join("; ", misShaped)}");
            throw new CheckpointException("The checkpoint does not fit the LifeGPT model: " + string.Join(". ", parts) + ".");
        }
        using var _ = no_grad();
        foreach (var (key, target) in expected) target.copy_(stateDict[key]);   // copy_ converts dtype and device
    }

    /// <summary>Reads a checkpoint into the model (<see cref="Read"/>, then <see cref="Apply"/>); returns its <see cref="StoredDType"/>.</summary>
    public static ScalarType Load(nn.Module model, string path)
    {
        var stateDict = Read(path);
        try
        {
            Apply(model, stateDict);
            return StoredDType(stateDict);
        }
        finally
        {
            foreach (var t in stateDict.Values) t.Dispose();
        }
    }

    /// <summary>Writes the model as safetensors, weights in <paramref name="dtype"/>; the rotary buffer stays float32.</summary>
    public static void Save(nn.Module model, string path, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var tensors = model.state_dict().ToDictionary(
            e => e.Key,
            e => e.Key == RotaryBuffer ? e.Value.to(ScalarType.Float32).cpu() : e.Value.to(dtype).cpu());
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        Safetensors.SaveStateDict(path, tensors);
    }

    /// <summary>The dtype most weights are stored in (for logs and the model card).</summary>
    public static ScalarType StoredDType(IReadOnlyDictionary<string, Tensor> stateDict) =>
        stateDict.Where(e => e.Key != RotaryBuffer).GroupBy(e => e.Value.dtype).MaxBy(g => g.Count())!.Key;

    public static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    private static bool IsZip(string path)
    {
        Span<byte> head = stackalloc byte[4];
        using var stream = File.OpenRead(path);
        return stream.Read(head) == 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4;
    }
}

/// <summary>A checkpoint that cannot be read or does not fit the model; the message lists what is wrong.</summary>
public sealed class CheckpointException(string message, Exception? inner = null) : Exception(message, inner);
