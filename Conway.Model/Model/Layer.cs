using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Conway.Model;

/// <summary>
/// One x-transformers layer, <c>ModuleList([norms, block, residual])</c>: child "0" holds the pre-norm
/// (as "0.0"), child "1" the block. The residual holds no weights and is the addition in Decoder.forward (decoding adds
/// in place).
/// </summary>
public sealed class Layer : nn.Module
{
    // fields, not get-only properties: TorchSharp's Module.to() writes moved submodules back through reflection
    public readonly LayerNorm Norm;
    public readonly nn.Module Block;

    private readonly DerivedTensors _derived = new();
    private Tensor? _decodingNormWeight;

    public Layer(nn.Module block) : base(nameof(Layer))
    {
        Norm = NoBiasLayerNorm();
        Block = block;
        register_module("0", nn.ModuleList<nn.Module>(Norm));
        register_module("1", block);
    }

    // TorchSharp would otherwise register the two properties again under their own names.
    protected override void RegisterComponents() { }

    internal static LayerNorm NoBiasLayerNorm() => nn.LayerNorm(LifeGptShape.Dim, LifeGptShape.NormEps, elementwise_affine: true, bias: false);

    /// <summary>Decoding: this layer's pre-norm of the residual stream (<see cref="ResidualStream.Normalize"/> with its weight).</summary>
    internal Tensor Normalize(ResidualStream residual) => residual.Normalize(NormWeight);

    /// <summary>Decoding: the norm's weight [256], detached.</summary>
    internal Tensor NormWeight => _decodingNormWeight ?? throw new InvalidOperationException("LifeGpt.PrepareForDecoding derives the decoding layouts first");

    /// <summary>Derives the decoding layouts of the norm (its weight, detached: a view) and of the block.</summary>
    internal void PrepareForDecoding(Tensor? headBlocks)
    {
        _derived.Clear();
        _decodingNormWeight = _derived.Own(Norm.weight!);
        switch (Block)
        {
            case Attention attention: attention.PrepareForDecoding(headBlocks); break;
            case FeedForward feedForward: feedForward.PrepareForDecoding(); break;
        }
    }

    protected override void Dispose(bool disposing)
    {
        _derived.Dispose();
        base.Dispose(disposing);
    }
}
