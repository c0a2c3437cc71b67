using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Conway.Model.Tests.Model;

/// <summary>The forms decoding folds the rotation into are the rotation that training applies.</summary>
public sealed class RotaryEmbeddingTests
{
    [Fact]
    public void Rotate_half_rows_project_exactly_the_rotate_half_of_each_heads_rotary_channels()
    {
        using var scope = NewDisposeScope();
        manual_seed(1);
        var weight = randn(LifeGptShape.Heads * LifeGptShape.HeadDim, LifeGptShape.Dim);
        var x = randn(5, LifeGptShape.Dim);

        var projected = F.linear(x, weight).view(5, LifeGptShape.Heads, LifeGptShape.HeadDim).narrow(2, 0, LifeGptShape.RotaryDim);
        var expected = RotaryEmbedding.RotateHalf(projected);
        var folded = F.linear(x, RotaryEmbedding.RotateHalfRows(weight)).view(5, LifeGptShape.Heads, LifeGptShape.RotaryDim);

        Assert.Equal(0f, (folded - expected).abs().max().item<float>(), 5e-6f);   // same products, summed in another order at most
    }

    [Fact]
    public void A_positions_matrix_rotates_a_row_vector_as_Apply_does()
    {
        using var scope = NewDisposeScope();
        using var rotary = new RotaryEmbedding();
        manual_seed(2);
        var x = randn(1, 1, LifeGptShape.Context, LifeGptShape.HeadDim);             // one head, every position
        var (cos, sin) = rotary.Tables(0, LifeGptShape.Context);

        var applied = RotaryEmbedding.Apply(x, cos, sin);
        var byMatrix = x.view(LifeGptShape.Context, 1, LifeGptShape.HeadDim).bmm(rotary.Matrices()).view(x.shape);

        Assert.True((byMatrix - applied).abs().max().item<float>() < 1e-5f);
        Assert.Equal(0f, (byMatrix - x).narrow(-1, LifeGptShape.RotaryDim, LifeGptShape.HeadDim - LifeGptShape.RotaryDim).abs().max().item<float>());
    }
}
