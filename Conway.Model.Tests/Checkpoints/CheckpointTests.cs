using Conway.Checkpoints;
using Conway.Model.Tests.Conformance;
using TorchSharp.PyBridge;
using TorchSharp;
using static TorchSharp.torch;

namespace Conway.Model.Tests.Checkpoints;

public sealed class CheckpointTests
{
    private const string RotaryKey = "net.attn_layers.rotary_pos_emb.inv_freq";

    private static bool Same(Tensor a, Tensor b) => a.dtype == b.dtype && a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    [Fact]
    public void Apply_reports_missing_unexpected_and_mis_shaped_keys_together_in_one_exception_and_copies_nothing()
    {
        using var scope = NewDisposeScope();
        using var model = new LifeGpt();
        var before = model.net.to_logits.weight!.clone();
        var stateDict = model.state_dict().ToDictionary(e => e.Key, e => e.Value.detach().clone());
        stateDict.Remove("net.attn_layers.layers.3.1.ff.2.bias");                        // missing
        stateDict["net.attn_layers.layers.24.0.0.weight"] = ones(256);                   // unexpected
        stateDict["net.attn_layers.final_norm.weight"] = ones(255);                      // mis-shaped
        stateDict["net.to_logits.weight"] = zeros(256, 256);                             // fine, and must not be copied

        var error = Assert.Throws<CheckpointException>(() => Checkpoint.Apply(model, stateDict));

        Assert.Contains("missing 1: net.attn_layers.layers.3.1.ff.2.bias", error.Message);
        Assert.Contains("unexpected 1: net.attn_layers.layers.24.0.0.weight", error.Message);
        Assert.Contains("mis-shaped 1: net.attn_layers.final_norm.weight: checkpoint [255], model [256]", error.Message);
        Assert.True(Same(model.net.to_logits.weight!, before), "a rejected state_dict was partly copied into the model");
    }

    [SharedDataFact]
    public void Bfloat16_conformance_checkpoint_survives_a_safetensors_round_trip_bit_for_bit_with_float32_rotary_buffer()
    {
        using var scope = NewDisposeScope();
        using var temp = new TempFolder();
        var original = Checkpoint.Read(ConformanceFixture.CheckpointPath);
        Assert.Equal(124, original.Count);
        Assert.Equal(ScalarType.BFloat16, Checkpoint.StoredDType(original));
        using var model = new LifeGpt();                     // float32: bf16 -> f32 -> bf16 must be exact
        Checkpoint.Apply(model, original);

        string path = temp.File("round-trip.safetensors");
        Checkpoint.Save(model, path, ScalarType.BFloat16);
        var reread = Checkpoint.Read(path);

        Assert.Equal(original.Keys.Order(), reread.Keys.Order());
        foreach (var (key, expected) in original)
        {
            var actual = reread[key];
            Assert.Equal(key == RotaryKey ? ScalarType.Float32 : ScalarType.BFloat16, actual.dtype);
            Assert.Equal(expected.shape, actual.shape);
            var expectedBits = expected.to(actual.dtype).contiguous().bytes.ToArray();
            Assert.True(expectedBits.AsSpan().SequenceEqual(actual.contiguous().bytes), $"{key} differs after the round trip");
        }
        // the rotary buffer holds the spec's inv_freq[j] = 10000^(-2j/32) in float32
        float[] invFreq = reread[RotaryKey].data<float>().ToArray();
        Assert.Equal(16, invFreq.Length);
        Assert.Equal(1f, invFreq[0]);
        Assert.Equal((float)Math.Pow(10000, -30.0 / 32), invFreq[15], 1e-9f);
    }

    [Fact]
    public void Float32_and_float16_pytorch_state_dicts_load_exactly_and_within_float16_rounding()
    {
        using var scope = NewDisposeScope();
        using var temp = new TempFolder();
        manual_seed(20240917);
        using var source = new LifeGpt();                     // random float32 weights: every mantissa bit in use
        var weights = source.state_dict().ToDictionary(e => e.Key, e => e.Value.detach().clone());

        string path32 = temp.File("lifegpt-fp32.pt"), path16 = temp.File("lifegpt-fp16.pt");
        PyTorchPickler.PickleStateDict(path32, weights.ToDictionary(e => e.Key, e => e.Value.to(ScalarType.Float32)));
        PyTorchPickler.PickleStateDict(path16, weights.ToDictionary(e => e.Key, e => e.Value.to(ScalarType.Float16)));

        Assert.Equal(ScalarType.Float32, Checkpoint.StoredDType(Checkpoint.Read(path32)));
        Assert.Equal(ScalarType.Float16, Checkpoint.StoredDType(Checkpoint.Read(path16)));

        using var fromFloat32 = new LifeGpt();
        Checkpoint.Apply(fromFloat32, Checkpoint.Read(path32));
        foreach (var (key, loaded) in fromFloat32.state_dict())
            Assert.True(Same(loaded, weights[key]), $"{key}: a float32 checkpoint did not load exactly");

        using var fromFloat16 = new LifeGpt();
        Checkpoint.Apply(fromFloat16, Checkpoint.Read(path16));
        long rounded = 0;
        foreach (var (key, loaded) in fromFloat16.state_dict())
        {
            var exact = weights[key];
            Assert.Equal(ScalarType.Float32, loaded.dtype);
            // each value is the float32 weight rounded to float16: off by at most half a float16 ulp (2^-11 relative,
            // 2^-25 absolute below the normal range), and identical to rounding it here
            var error = (loaded - exact).abs();
            using Scalar relative = Math.Pow(2, -11).ToScalar(), absolute = Math.Pow(2, -25).ToScalar();   // held: see Scalars
            var bound = exact.abs().mul(relative).add_(absolute);
            Assert.True(error.le(bound).all().item<bool>(), $"{key}: float16 weights are off by up to {error.max().item<float>()}");
            Assert.True(Same(loaded, exact.to(ScalarType.Float16).to(ScalarType.Float32)), $"{key} is not the float16 rounding");
            rounded += error.gt(Scalars.Zero).sum().item<long>();
        }
        Assert.True(rounded > 1_000_000, $"only {rounded} values changed: the float16 file was not really float16");
    }

    [Fact]
    public void Format_is_told_by_content_so_a_safetensors_file_named_pt_loads()
    {
        using var scope = NewDisposeScope();
        using var temp = new TempFolder();
        manual_seed(7);
        using var source = new LifeGpt();
        string path = temp.File("x.pt");
        Checkpoint.Save(source, path, ScalarType.Float32);

        var stateDict = Checkpoint.Read(path);
        using var model = new LifeGpt();
        Checkpoint.Apply(model, stateDict);

        Assert.Equal(124, stateDict.Count);
        Assert.True(Same(model.net.to_logits.weight!, source.net.to_logits.weight!));
        Assert.True(Same(model.net.attn_layers.layers[4].Norm.weight!, source.net.attn_layers.layers[4].Norm.weight!));
    }

    [Fact]
    public void Random_bytes_and_a_missing_path_give_a_checkpoint_exception_that_names_the_file_and_the_problem()
    {
        using var temp = new TempFolder();
        string garbage = temp.File("garbage.safetensors");
        var bytes = new byte[4096];
        new Random(42).NextBytes(bytes);
        File.WriteAllBytes(garbage, bytes);
        string brokenZip = temp.File("broken.pt");                 // a zip signature, then garbage: read as PyTorch, and fails
        File.WriteAllBytes(brokenZip, [(byte)'P', (byte)'K', 3, 4, .. bytes]);
        string missing = temp.File("no-such-model.safetensors");

        var unreadable = Assert.Throws<CheckpointException>(() => Checkpoint.Read(garbage));
        var notAZip = Assert.Throws<CheckpointException>(() => Checkpoint.Read(brokenZip));
        var absent = Assert.Throws<CheckpointException>(() => Checkpoint.Read(missing));

        Assert.StartsWith($"'{garbage}' is neither a PyTorch state_dict nor a safetensors file: ", unreadable.Message);
        Assert.NotNull(unreadable.InnerException);
        Assert.StartsWith($"'{brokenZip}' is neither a PyTorch state_dict nor a safetensors file: ", notAZip.Message);
        Assert.Equal($"No checkpoint at '{missing}'.", absent.Message);
    }
}
