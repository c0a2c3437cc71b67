using Conway.Codec;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Conway.Model;

// LifeGPT, the x-transformers 1.27.21 decoder of shared/spec/lifegpt-model.md, module for module.
// Class and field names follow the reference so that state_dict keys are exactly the checkpoint's
// (net.token_emb.emb.weight, net.attn_layers.layers.{i}.0.0.weight, ...): loading needs no renaming table.

/// <summary>The model's fixed hyper-parameters (spec: "Architecture").</summary>
public static class LifeGptShape
{
    public const int Vocab = 256, Dim = 256, Heads = 8, HeadDim = 64, FfDim = 1024;
    public const int Blocks = 24;            // alternating attention (even) and feed-forward (odd)
    public const int RotaryDim = 32;         // rotary on the first 32 of each head's 64 channels
    public const int Context = LifeGptCodec.SequenceLength;   // one full training sequence: 2071
    public const double NormEps = 1e-5;
}

/// <summary>The AutoregressiveWrapper: its only child is <c>net</c>.</summary>
public sealed class LifeGpt : nn.Module<Tensor, Tensor>
{
    public readonly TransformerWrapper net;

    private readonly Autocast _autocast = new();

    public LifeGpt() : base(nameof(LifeGpt))
    {
        net = new TransformerWrapper(_autocast);
        RegisterComponents();
    }

    /// <summary>
    /// Training with float32 master weights: run the linear layers in this dtype (bf16), the rest in float32.
    /// Null (the default) computes in the weights' own dtype.
    /// </summary>
    public ScalarType? AutocastTo { get => _autocast.To; set => _autocast.To = value; }

    /// <summary>Logits [B, T, 256] for tokens [B, T] at positions 0..T-1, causal. (Decoding uses FusedLifeGpt.)</summary>
    public override Tensor forward(Tensor tokens) => net.forward(tokens);

}

public sealed class TransformerWrapper : nn.Module
{
    public readonly TokenEmbedding token_emb;
    public readonly Decoder attn_layers;
    public readonly Linear to_logits;

    private readonly Autocast _autocast;

    internal TransformerWrapper(Autocast autocast) : base(nameof(TransformerWrapper))
    {
        _autocast = autocast;
        token_emb = new TokenEmbedding();
        attn_layers = new Decoder(autocast);
        to_logits = nn.Linear(LifeGptShape.Dim, LifeGptShape.Vocab, hasBias: false);
        RegisterComponents();
    }

    public Tensor forward(Tensor tokens)
    {
        using var x = token_emb.emb.forward(tokens);      // no scaling, no absolute positions
        using var h = attn_layers.forward(x);
        return _autocast.Linear(to_logits, h);
    }
}

public sealed class TokenEmbedding : nn.Module
{
    public readonly Embedding emb;

    public TokenEmbedding() : base(nameof(TokenEmbedding))
    {
        emb = nn.Embedding(LifeGptShape.Vocab, LifeGptShape.Dim);
        RegisterComponents();
    }
}

/// <summary>24 pre-norm residual blocks, rotary positions, a final LayerNorm.</summary>
public sealed class Decoder : nn.Module
{
    public readonly ModuleList<Layer> layers;
    public readonly RotaryEmbedding rotary_pos_emb;
    public readonly LayerNorm final_norm;

    internal Decoder(Autocast autocast) : base(nameof(Decoder))
    {
        layers = nn.ModuleList(Enumerable.Range(0, LifeGptShape.Blocks)
            .Select(i => new Layer(i % 2 == 0 ? new Attention(autocast) : new FeedForward(autocast))).ToArray());
        rotary_pos_emb = new RotaryEmbedding();
        final_norm = NoBiasLayerNorm();
        RegisterComponents();
    }

    public Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var (cos, sin) = rotary_pos_emb.Tables(0, (int)x.shape[1]);
        foreach (var layer in layers)
        {
            var normed = layer.Norm.forward(x);                       // x = x + block(LayerNorm(x))
            var y = layer.Block switch
            {
                Attention a => a.forward(normed, cos, sin),
                FeedForward f => f.forward(normed),
                _ => throw new InvalidOperationException(),
            };
            x = x.add(y, Scalars.One);                                   // add(y) would make its alpha 1 unheld: see Scalars
        }
        return final_norm.forward(x).MoveToOuterDisposeScope();
    }

    internal static LayerNorm NoBiasLayerNorm() => nn.LayerNorm(LifeGptShape.Dim, LifeGptShape.NormEps, elementwise_affine: true, bias: false);
}

/// <summary>
/// One x-transformers layer, <c>ModuleList([norms, block, residual])</c>: child "0" holds the pre-norm
/// (as "0.0"), child "1" the block. The residual holds no weights and is the addition in Decoder.forward.
/// </summary>
public sealed class Layer : nn.Module
{
    // fields, not get-only properties: TorchSharp's Module.to() writes moved submodules back through reflection
    public readonly LayerNorm Norm;
    public readonly nn.Module Block;

    public Layer(nn.Module block) : base(nameof(Layer))
    {
        Norm = Decoder.NoBiasLayerNorm();
        Block = block;
        register_module("0", nn.ModuleList<nn.Module>(Norm));
        register_module("1", block);
    }

    // TorchSharp would otherwise register the two properties again under their own names.
    protected override void RegisterComponents() { }
}

/// <summary>8 heads of 64, causal, rotary q/k, no biases.</summary>
public sealed class Attention : nn.Module
{
    public readonly Linear to_q, to_k, to_v, to_out;
    private readonly Autocast _autocast;

    internal Attention(Autocast autocast) : base(nameof(Attention))
    {
        _autocast = autocast;
        const int inner = LifeGptShape.Heads * LifeGptShape.HeadDim;
        to_q = nn.Linear(LifeGptShape.Dim, inner, hasBias: false);
        to_k = nn.Linear(LifeGptShape.Dim, inner, hasBias: false);
        to_v = nn.Linear(LifeGptShape.Dim, inner, hasBias: false);
        to_out = nn.Linear(inner, LifeGptShape.Dim, hasBias: false);
        RegisterComponents();
    }

    public Tensor forward(Tensor x, Tensor cos, Tensor sin)
    {
        long b = x.shape[0], l = x.shape[1];
        Tensor Heads(Linear proj) => _autocast.Linear(proj, x).view(b, l, LifeGptShape.Heads, LifeGptShape.HeadDim).transpose(1, 2);
        var q = RotaryEmbedding.Apply(Heads(to_q), cos, sin);
        var k = RotaryEmbedding.Apply(Heads(to_k), cos, sin);
        var o = F.scaled_dot_product_attention(q, k, Heads(to_v), is_casual: true);   // softmax(q k^T / 8) v
        return _autocast.Linear(to_out, o.transpose(1, 2).reshape(b, l, -1));
    }
}

/// <summary>Linear(256 -> 1024, bias), exact GELU, Linear(1024 -> 256, bias): keys ff.0.0 and ff.2.</summary>
public sealed class FeedForward : nn.Module
{
    private readonly Linear _in, _out;
    private readonly Autocast _autocast;

    internal FeedForward(Autocast autocast) : base(nameof(FeedForward))
    {
        _autocast = autocast;
        _in = nn.Linear(LifeGptShape.Dim, LifeGptShape.FfDim, hasBias: true);
        _out = nn.Linear(LifeGptShape.FfDim, LifeGptShape.Dim, hasBias: true);
        // the reference's nn.Sequential(nn.Sequential(Linear, GELU), Dropout, Linear), registered by hand for its keys
        register_module("ff", nn.Sequential(nn.Sequential(_in, nn.GELU()), nn.Dropout(0.0), _out));
    }

    internal Linear In => _in;
    internal Linear Out => _out;

    // The two Linear fields are already registered inside "ff".
    protected override void RegisterComponents() { }

    public Tensor forward(Tensor x) => _autocast.Linear(_out, F.gelu(_autocast.Linear(_in, x)));   // exact (erf) GELU
}

/// <summary>
/// TorchSharp has no autocast; this is autocast's rule for linear layers, by hand: with <see cref="To"/> set (training
/// with float32 master weights), inputs and weights are cast to bf16 for the matmul, so the residual stream and
/// the LayerNorms stay float32 while the matmuls and attention run on bf16 tensor cores (about 166 against 510 ms a
/// step on an H200 at batch 64: models/lifegpt.md).
/// </summary>
internal sealed class Autocast
{
    public ScalarType? To { get; set; }

    public Tensor Linear(Linear layer, Tensor x) => To is not { } dtype
        ? layer.forward(x)
        : F.linear(x.to(dtype), layer.weight!.to(dtype), layer.bias?.to(dtype));
}

/// <summary>
/// Rotary embedding, "rotate halves" (GPT-NeoX) on the first 32 channels of each head:
/// with x1 = channels 0..15 and x2 = 16..31, out1 = x1 cos - x2 sin, out2 = x2 cos + x1 sin.
/// The cos/sin tables for all 2071 positions are computed once (from the checkpoint's inv_freq buffer).
/// </summary>
public sealed class RotaryEmbedding : nn.Module
{
    private Tensor? _cos, _sin;

    public RotaryEmbedding() : base(nameof(RotaryEmbedding))
    {
        // inv_freq(j) = 10000^(-j / 32) for j = 0, 2, ..., 30 (every value held across its native calls: see Scalars)
        using Scalar start = 0.ToScalar(), stop = LifeGptShape.RotaryDim.ToScalar(), step = 2.ToScalar();
        using var theta = tensor(10000.0);
        using var j = arange(start, stop, step, ScalarType.Float32);
        using var exponent = j.div(stop).neg_();
        register_buffer("inv_freq", pow(theta, exponent));
    }

    // not named inv_freq: TorchSharp's Module.to() would try to assign a moved buffer to a member of that name
    private Tensor InvFreq => get_buffer("inv_freq")!;

    /// <summary>cos and sin [L, 32] for positions start..start+L-1, as views of the precomputed tables.</summary>
    public (Tensor Cos, Tensor Sin) Tables(int start, int length)
    {
        if (_cos is null || _cos.device_type != InvFreq.device_type || _cos.device_index != InvFreq.device_index)
            PrecomputeTables(InvFreq.device);
        return (_cos!.narrow(0, start, length), _sin!.narrow(0, start, length));
    }

    /// <summary>
    /// Computes the float32 cos/sin tables on a device from the float32 inv_freq. Called before the weights are cast
    /// to 16 bits, so the angles keep the reference's float32 precision (the tables are not buffers: casts skip them).
    /// </summary>
    public void PrecomputeTables(Device device)
    {
        using var scope = NewDisposeScope();
        var invFreq = InvFreq.to(ScalarType.Float32, device);
        using var positions = LifeGptShape.Context.ToScalar();
        var angles = outer(arange(Scalars.Zero, positions, Scalars.One, ScalarType.Float32, device), invFreq);
        var both = cat([angles, angles], -1);                      // angle(p, j) for channel j and j+16 alike
        _cos?.Dispose();
        _sin?.Dispose();
        _cos = both.cos().DetachFromDisposeScope();                // owned by this module, freed in Dispose
        _sin = both.sin().DetachFromDisposeScope();
    }

    /// <summary>Rotates the first 32 channels of x [B, H, L, 64]; the other 32 pass through.</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        const int half = LifeGptShape.RotaryDim / 2;
        var rot = x.narrow(-1, 0, LifeGptShape.RotaryDim);
        var pass = x.narrow(-1, LifeGptShape.RotaryDim, LifeGptShape.HeadDim - LifeGptShape.RotaryDim);
        var rotatedHalf = cat([-rot.narrow(-1, half, half), rot.narrow(-1, 0, half)], -1);   // (-x2, x1)
        var c = cos.to(x.dtype);
        var s = sin.to(x.dtype);
        return cat([(rot * c).add_(rotatedHalf * s, Scalars.One), pass], -1);
    }

    protected override void Dispose(bool disposing)
    {
        _cos?.Dispose();
        _sin?.Dispose();
        base.Dispose(disposing);
    }
}

public static class LifeGptModuleExtensions
{
    /// <summary>
    /// Moves the model to a device with its weights in <paramref name="dtype"/>. The rotary tables are made first, in
    /// float32 as in the reference: rounding inv_freq to bf16 would shift every rotary angle.
    /// </summary>
    public static void MoveTo(this LifeGpt model, Device device, ScalarType dtype)
    {
        model.net.attn_layers.rotary_pos_emb.PrecomputeTables(device);
        model.to(device).to(dtype);
    }
}
