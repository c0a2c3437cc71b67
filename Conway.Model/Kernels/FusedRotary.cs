using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace Conway.Kernels;

/// <summary>
/// Training's rotary on the fused kernels, as an autograd function: forward rotates q and k in a copy of the q | k | v
/// projection [N, 1536] by each position's angles (<see cref="FusedKernels.RotaryPass"/>); backward rotates the gradient
/// back by the negated angles, since a rotation's inverse is its transpose. v and the 32 channels of each head that
/// rotary leaves alone pass through both ways. With libtorch's kernels rotary and the slicing around it took about a
/// third of a training step (docs/PERFORMANCE.md, "Training steps").
/// </summary>
internal sealed class FusedRotary : SingleTensorFunction<FusedRotary>
{
    /// <summary>The kernels and the bfloat16 tables [positions, 32] of a forward's positions 0..Length-1.</summary>
    internal sealed record Tables(FusedKernels Kernels, Tensor Cos, Tensor Sin, Tensor NegatedSin, int Length);

    public override string Name => nameof(FusedRotary);

    /// <summary>q and k of qkv [N, 1536] (N = sequences x Length, bfloat16) rotated, in a new tensor.</summary>
    public static Tensor Rotate(Tensor qkv, Tables tables) => apply(qkv, tables);

    public override Tensor forward(AutogradContext ctx, params object[] vars)
    {
        var (qkv, tables) = ((Tensor)vars[0], (Tables)vars[1]);
        ctx.save_data(nameof(Tables), tables);
        return Rotated(qkv, tables.Kernels, tables.Cos, tables.Sin, tables.Length);
    }

    public override List<Tensor> backward(AutogradContext ctx, Tensor grad_output)
    {
        var tables = (Tables)ctx.get_data(nameof(Tables));
        return [Rotated(grad_output, tables.Kernels, tables.Cos, tables.NegatedSin, tables.Length), null!];
    }

    private static Tensor Rotated(Tensor x, FusedKernels kernels, Tensor cos, Tensor sin, int length)
    {
        var copy = empty(x.shape, x.dtype, x.device);
        copy.copy_(x);
        kernels.RotaryPass(copy, cos, sin, 0, length);
        return copy;
    }
}
