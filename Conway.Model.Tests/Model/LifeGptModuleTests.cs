using static TorchSharp.torch;

namespace Conway.Model.Tests.Model;

public sealed class LifeGptModuleTests
{
    [Fact]
    public void State_dict_has_exactly_the_reference_keys_and_parameter_count()
    {
        using var model = new LifeGpt();
        var keys = model.state_dict().Keys.ToHashSet();

        Assert.Equal(124, keys.Count);
        Assert.Contains("net.token_emb.emb.weight", keys);
        Assert.Contains("net.attn_layers.layers.0.0.0.weight", keys);
        Assert.Contains("net.attn_layers.layers.22.1.to_out.weight", keys);
        Assert.Contains("net.attn_layers.layers.23.1.ff.0.0.bias", keys);
        Assert.Contains("net.attn_layers.layers.23.1.ff.2.weight", keys);
        Assert.Contains("net.attn_layers.rotary_pos_emb.inv_freq", keys);
        Assert.Contains("net.attn_layers.final_norm.weight", keys);
        Assert.Contains("net.to_logits.weight", keys);
        Assert.Equal(12_735_744, model.parameters().Sum(p => p.NumberOfElements));
    }

    [Fact]
    public void Moving_to_bfloat16_casts_the_weights_but_keeps_float32_rotary_angles()
    {
        using var model = new LifeGpt();
        var (cos32, _) = model.net.attn_layers.rotary_pos_emb.Tables(0, LifeGptShape.Context);
        var reference = cos32.clone();

        model.MoveTo(CPU, ScalarType.BFloat16);

        Assert.All(model.parameters(), p => Assert.Equal(ScalarType.BFloat16, p.dtype));
        var (cos, _) = model.net.attn_layers.rotary_pos_emb.Tables(0, LifeGptShape.Context);
        Assert.Equal(ScalarType.Float32, cos.dtype);
        Assert.Equal(0f, (cos - reference).abs().max().item<float>());
        using var _ = inference_mode();
        var logits = model.forward(ones(1, 8, ScalarType.Int64));
        Assert.Equal(new long[] { 1, 8, 256 }, logits.shape);
        Assert.Equal(ScalarType.BFloat16, logits.dtype);
    }

    [Fact]
    public void Decoding_layouts_are_derived_from_the_parameters_not_added_to_the_state()
    {
        using var model = new LifeGpt();
        var keys = model.state_dict().Keys.Order().ToArray();
        long parameters = model.parameters().Sum(p => p.NumberOfElements);

        model.PrepareForDecoding();

        Assert.Equal(keys, model.state_dict().Keys.Order().ToArray());
        Assert.Equal(parameters, model.parameters().Sum(p => p.NumberOfElements));
    }

    [Fact]
    public void Decoding_derives_its_layouts_again_after_the_weights_are_cast()
    {
        using var model = new LifeGpt();
        using var _ = inference_mode();
        var tokens = randint(0, LifeGptShape.Vocab, [2, 8], dtype: ScalarType.Int64);
        Assert.Equal(ScalarType.Float32, model.Pass(tokens, 0, null, 0, cellsOnly: false).dtype);   // derived from float32

        model.MoveTo(CPU, ScalarType.BFloat16);

        var decoded = model.Pass(tokens, 0, null, 0, cellsOnly: false);
        Assert.Equal(ScalarType.BFloat16, decoded.dtype);
        var expected = model.forward(tokens);
        float scale = expected.to(ScalarType.Float32).abs().max().item<float>();
        Assert.True((decoded - expected).to(ScalarType.Float32).abs().max().item<float>() < 0.05f * scale,
            "the pass after the cast does not compute the bf16 module's logits");
    }
}
