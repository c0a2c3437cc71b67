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

    public Tensor Linear(Linear layer, Tensor x) => To is not { } dtype
        ? layer.forward(x)
        : F.linear(x.to(dtype), layer.weight!.to(dtype), layer.bias?.to(dtype));
}
