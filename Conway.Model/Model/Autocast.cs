using Conway.Kernels;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Conway.Model;

/// <summary>
/// TorchSharp has no autocast; this is autocast's rule for linear layers, by hand: with <see cref="To"/> set (training
/// with float32 master weights), inputs and weights are cast to bf16 for the matmul, so the residual stream and
/// the LayerNorms stay float32 while the matmuls and attention run on bf16 tensor cores (about 166 against 510 ms a
/// step on an H200 at batch 64: models/lifegpt.md).
/// </summary>
internal sealed class Autocast
{
    public ScalarType? To { get; set; }

    /// <summary>
    /// Kernels for training's forward (<see cref="LifeGpt.TrainingKernels"/>): used where <see cref="To"/> is bfloat16 and the
    /// activations are on the kernels' device.
    /// </summary>
    public FusedKernels? Kernels { get; set; }

    /// <summary>The kernels, if a forward over activations on <paramref name="device"/> can use them.</summary>
    public FusedKernels? KernelsFor(Device device) =>
        To == ScalarType.BFloat16 && Kernels is { } k && k.On(device) ? k : null;

    public Tensor Linear(Linear layer, Tensor x) => Linear(x, layer.weight!, layer.bias);

    /// <summary>x W^T (+ bias), in <see cref="To"/> when set.</summary>
    public Tensor Linear(Tensor x, Tensor weight, Tensor? bias = null) => To is not { } dtype
        ? F.linear(x, weight, bias)
        : F.linear(x.to(dtype), weight.to(dtype), bias?.to(dtype));
}
