using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Conway.Model;

/// <summary>
/// Linear(256 -> 1024, bias), exact GELU, Linear(1024 -> 256, bias): keys ff.0.0 and ff.2. <see cref="forward"/> is
/// training's; decoding adds the block's output to the residual in place (<see cref="AddTo"/>).
/// </summary>
public sealed class FeedForward : nn.Module
{
    private readonly Linear _in, _out;
    private readonly Autocast _autocast;
    private readonly DerivedTensors _derived = new();
    private DecodingLayout? _decoding;

    internal FeedForward(Autocast autocast) : base(nameof(FeedForward))
    {
        _autocast = autocast;
        _in = nn.Linear(LifeGptShape.Dim, LifeGptShape.FfDim, hasBias: true);
        _out = nn.Linear(LifeGptShape.FfDim, LifeGptShape.Dim, hasBias: true);
        // the reference's nn.Sequential(nn.Sequential(Linear, GELU), Dropout, Linear), registered by hand for its keys
        register_module("ff", nn.Sequential(nn.Sequential(_in, nn.GELU()), nn.Dropout(0.0), _out));
    }

    // The two Linear fields are already registered inside "ff".
    protected override void RegisterComponents() { }

    /// <summary>
    /// Training's feed-forward of x [..., 256], computed on x's rows as a matrix [N, 256]: for a matrix cuBLAS adds the
    /// bias in its GEMM's epilogue, where libtorch adds it in a separate kernel for [B, L, 256].
    /// </summary>
    public Tensor forward(Tensor x)
    {
        var rows = x.view(-1, LifeGptShape.Dim);
        return _autocast.Linear(_out, F.gelu(_autocast.Linear(_in, rows))).view(x.shape);   // exact (erf) GELU
    }

    /// <summary>
    /// Decoding: adds this block's output for its normed inputs [N, 256] to the residual stream. The bias and exact GELU
    /// stay libtorch's with either kernels: cuBLAS adds the bias in its GEMM's epilogue and gelu_ runs at the copy
    /// bandwidth, so a bias-free GEMM plus a fused bias + GELU kernel was slower (docs/PERFORMANCE.md, "Fused kernels").
    /// </summary>
    internal void AddTo(ResidualStream residual, Tensor normed)
    {
        var d = _decoding ?? throw new InvalidOperationException("LifeGpt.PrepareForDecoding derives the decoding layouts first");
        var hidden = F.linear(normed, d.In, d.InBias).gelu_();                              // exact (erf) GELU
        residual.Add(F.linear(hidden, d.Out, d.OutBias));
    }

    /// <summary>Decoding's weights: the parameters themselves, detached (views: nothing is copied).</summary>
    internal void PrepareForDecoding()
    {
        _derived.Clear();
        _decoding = new DecodingLayout(_derived.Own(_in.weight!), _derived.Own(_in.bias!), _derived.Own(_out.weight!), _derived.Own(_out.bias!));
    }

    protected override void Dispose(bool disposing)
    {
        _derived.Dispose();
        base.Dispose(disposing);
    }

    private sealed record DecodingLayout(Tensor In, Tensor InBias, Tensor Out, Tensor OutBias);

    /// <summary>A step's weights for <see cref="Kernels.GreedySteps"/>: [1024, 256] + [1024], then [256, 1024] + [256].</summary>
    internal (Tensor In, Tensor InBias, Tensor Out, Tensor OutBias) StepWeights =>
        _decoding is { } d ? (d.In, d.InBias, d.Out, d.OutBias) : throw new InvalidOperationException("LifeGpt.PrepareForDecoding derives the decoding layouts first");
}
