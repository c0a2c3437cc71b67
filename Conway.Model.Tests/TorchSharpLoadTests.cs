using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Conway.Model.Tests;

/// <summary>The native libtorch loads on this host and computes: the first thing to check when everything else fails.</summary>
public sealed class TorchSharpLoadTests
{
    [Fact]
    public void Libtorch_loads_and_a_small_matrix_product_gives_the_known_integers()
    {
        using var scope = NewDisposeScope();
        var a = tensor(new float[] { 1, 2, 3, 4, 5, 6 }, [2, 3]);
        var b = tensor(new float[] { 7, 8, 9, 10, 11, 12 }, [3, 2]);

        var product = mm(a, b);

        Assert.Equal(new long[] { 2, 2 }, product.shape);
        Assert.Equal(new float[] { 58, 64, 139, 154 }, product.data<float>().ToArray());
        using var six = 6.ToScalar();
        var integers = mm(arange(six, ScalarType.Int64).view(2, 3), ones(3, 1, ScalarType.Int64));
        Assert.Equal(new long[] { 3, 12 }, integers.data<long>().ToArray());
    }

    [Fact]
    public void Scaled_dot_product_attention_is_the_softmax_weighted_sum_of_values_computed_by_hand()
    {
        using var scope = NewDisposeScope();
        double[][] q = [[1, 0], [0, 2], [1, 1]], k = [[1, 0], [0, 1], [1, 1]], v = [[1, 2], [3, 4], [5, 6]];
        Tensor T(double[][] rows) => tensor(rows.SelectMany(r => r).Select(x => (float)x).ToArray(), [1, 1, rows.Length, 2]);

        float[] full = F.scaled_dot_product_attention(T(q), T(k), T(v)).data<float>().ToArray();
        float[] causal = F.scaled_dot_product_attention(T(q), T(k), T(v), is_casual: true).data<float>().ToArray();

        for (int i = 0; i < 3; i++)
        {
            double[] all = Attend(q[i], k, v, keys: 3), seen = Attend(q[i], k, v, keys: i + 1);
            for (int d = 0; d < 2; d++)
            {
                Assert.Equal(all[d], full[2 * i + d], 1e-5);
                Assert.Equal(seen[d], causal[2 * i + d], 1e-5);
            }
        }
        // spot values: query (1, 0) weighs keys (1, 0) and (1, 1) equally, so its output is symmetric around v[1] = (3, 4)
        Assert.Equal(3.0, full[0], 1e-5);
        Assert.Equal(4.0, full[1], 1e-5);
        Assert.Equal(new float[] { 1, 2 }, causal.Take(2).ToArray());     // the first query sees only the first key
    }

    /// <summary>softmax(q . k_j / sqrt(d)) over the first <paramref name="keys"/> keys, times their values.</summary>
    private static double[] Attend(double[] q, double[][] k, double[][] v, int keys)
    {
        double[] scores = k.Take(keys).Select(kj => (q[0] * kj[0] + q[1] * kj[1]) / Math.Sqrt(2)).ToArray();
        double max = scores.Max();
        double[] weights = scores.Select(s => Math.Exp(s - max)).ToArray();
        double total = weights.Sum();
        return [Enumerable.Range(0, keys).Sum(j => weights[j] / total * v[j][0]), Enumerable.Range(0, keys).Sum(j => weights[j] / total * v[j][1])];
    }
}
