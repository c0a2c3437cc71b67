using System.Diagnostics;
using Conway.Kernels;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Conway.Model;

/// <summary>
/// Each fused kernel against the libtorch operations it replaces in decoding, on random bfloat16 inputs of a pass's or
/// a step's size on one CUDA device: the largest difference of their outputs, in units of the bfloat16 spacing at the
/// libtorch output's magnitude or its root mean square, whichever is larger (ulps; 0 = bit-identical), and the time of each (the mean of timed runs after a warm-up,
/// synchronised, so host overhead is included at small sizes). <c>conway kernels</c> prints it.
/// </summary>
public static class FusedKernelCheck
{
    /// <summary>One row: what was compared, at what size, the largest difference (and the most it may be) and each side's time.</summary>
    public sealed record Result(string Kernel, string Size, double MaxUlps, double ToleranceUlps, double MaxAbsolute, double LibtorchMs, double FusedMs)
    {
        public bool Passed => MaxUlps <= ToleranceUlps;
    }

    /// <summary>
    /// The tolerances, in ulps at the output's scale. Exact (0) where the kernel rounds as libtorch's operations do: the
    /// residual add, rotary, the cache's keys and values. LayerNorm: 2 (libtorch's Welford mean and variance against the
    /// kernel's two sums, both in float32). A step's attention: 16, since libtorch's path rounds the scores and the
    /// softmax weights to bfloat16 before using them where the kernel keeps float32 throughout (measured: 4 to 8).
    /// </summary>
    public const double Exact = 0, NormUlps = 2, AttentionUlps = 16;

    public static IReadOnlyList<Result> Run(FusedKernels kernels, Device device, int passBoards, int stepBatch, int stepPosition, int repeats)
    {
        var results = TrainingAttention(kernels, device, trainingBoards: 8, repeats).ToList();
        using var _ = inference_mode();
        using var scope = NewDisposeScope();
        var generator = manual_seed(1);
        Tensor Random(params long[] shape) => randn(shape, ScalarType.Float32, device).to(ScalarType.BFloat16);
        long rows = (long)passBoards * (LifeGptShape.Context - 3);       // a speculative pass's positions: 2,068 a board
        string passSize = $"{passBoards} boards x 2,068 positions";

        // the residual add and pre-norm: x.add_(y) then layer_norm, against add_layer_norm
        {
            var x = Random(rows, LifeGptShape.Dim);
            var y = Random(rows, LifeGptShape.Dim);
            var weight = Random(LifeGptShape.Dim).abs_();
            var xTorch = x.clone();
            var xFused = x.clone();
            var expected = F.layer_norm(xTorch.add_(y, Scalars.One), [LifeGptShape.Dim], weight, null, LifeGptShape.NormEps);
            var actual = kernels.AddLayerNorm(xFused, y, weight, LifeGptShape.NormEps);
            results.Add(Compare("add + LayerNorm: x += y", passSize, xTorch, xFused, Exact, 0, 0));
            results.Add(Compare("add + LayerNorm: the norm", passSize, expected, actual, NormUlps,
                Time(() => F.layer_norm(x.add(y, Scalars.One), [LifeGptShape.Dim], weight, null, LifeGptShape.NormEps), device, repeats),
                Time(() => kernels.AddLayerNorm(x.clone(), y, weight, LifeGptShape.NormEps), device, repeats)));
            results.Add(Compare("LayerNorm", passSize, F.layer_norm(x, [LifeGptShape.Dim], weight, null, LifeGptShape.NormEps),
                kernels.AddLayerNorm(x, null, weight, LifeGptShape.NormEps), NormUlps,
                Time(() => F.layer_norm(x, [LifeGptShape.Dim], weight, null, LifeGptShape.NormEps), device, repeats),
                Time(() => kernels.AddLayerNorm(x, null, weight, LifeGptShape.NormEps), device, repeats)));
        }

        using var rotary = new RotaryEmbedding();
        rotary.to(device);
        var (cos32, sin32) = rotary.Tables(0, LifeGptShape.Context);
        var cos = cos32.to(ScalarType.BFloat16).unsqueeze(1).contiguous();              // the pass tables, as decoding holds them
        var sin = sin32.to(ScalarType.BFloat16).unsqueeze(1).contiguous();

        // a pass's projection and rotary: libtorch's 2,048-row projection with swap(q), swap(k) and two in-place kernels,
        // against the 1,536-row projection and rotary_pass
        {
            int length = LifeGptShape.Context - 3;
            var normed = Random(rows, LifeGptShape.Dim);
            var w = Random(3 * 512, LifeGptShape.Dim).Scale(0.06);
            var projection = cat([w, RotaryEmbedding.RotateHalfRows(w.narrow(0, 0, 512)), RotaryEmbedding.RotateHalfRows(w.narrow(0, 512, 512))], 0);
            Tensor Libtorch()
            {
                var projected = F.linear(normed, projection);
                var halves = projected.narrow(1, 1536, 512).view(passBoards, length, 16, LifeGptShape.RotaryDim);
                var rotated = projected.view(passBoards, length, -1, LifeGptShape.HeadDim).narrow(2, 0, 16).narrow(3, 0, LifeGptShape.RotaryDim);
                RotaryEmbedding.ApplyInPlace(rotated, halves, cos.narrow(0, 0, length), sin.narrow(0, 0, length));
                return projected;
            }
            Tensor Fused()
            {
                var projected = F.linear(normed, w);
                kernels.RotaryPass(projected, cos, sin, 0, length);
                return projected;
            }
            results.Add(Compare("projection + rotary", passSize, Libtorch().narrow(1, 0, 1536), Fused(), Exact, Time(() => Libtorch(), device, repeats), Time(() => Fused(), device, repeats)));
        }

        // a decode step's rotary, cache write and attention over stepPosition + 1 cached positions: the block-diagonal GEMMs
        // of libtorch's path against rotary_step + attend_step (+ attend_combine)
        foreach (int batch in new[] { 1, stepBatch })
        {
            int position = stepPosition, attended = Attention.PaddedLength(position + 1);
            string size = $"batch {batch}, {position + 1} positions";
            var cache = zeros([2, Attention.PaddedContext, batch, LifeGptShape.Heads, LifeGptShape.HeadDim], ScalarType.BFloat16, device);
            cache.narrow(1, 0, position).copy_(Random(2, position, batch, LifeGptShape.Heads, LifeGptShape.HeadDim));
            var qkv = Random(batch, 1536);
            var rotations = Attention.StepRotations(rotary, ScalarType.BFloat16);
            var mask = Attention.StepMask(ScalarType.BFloat16, device)[position].narrow(0, 0, attended).view(1, 1, attended);
            var headBlocks = Attention.HeadBlocks(ScalarType.BFloat16, device);
            var torchCache = cache.clone();
            var fusedCache = cache.clone();
            Tensor Libtorch()
            {
                var rotated = qkv.view(batch, 3, LifeGptShape.Heads, LifeGptShape.HeadDim).matmul(rotations[position]);
                torchCache.select(1, position).copy_(rotated.narrow(1, 1, 2).transpose(0, 1));
                var upto = torchCache.narrow(1, 0, attended).view(2, attended, -1, 512);
                var queries = rotated.narrow(1, 0, 1).mul(headBlocks).view(batch, LifeGptShape.Heads, 512);
                var weights = queries.bmm(upto[0].permute(1, 2, 0)).add_(mask, Scalars.One).softmax(-1);
                var blocks = weights.bmm(upto[1].transpose(0, 1)).view(batch, LifeGptShape.Heads, LifeGptShape.Heads, LifeGptShape.HeadDim);
                return blocks.diagonal(0, 1, 2).permute(0, 2, 1).reshape(batch, 512);   // head h's block of row h
            }
            Tensor Fused()
            {
                var q = kernels.RotaryStep(qkv, cos, sin, fusedCache, position);
                return kernels.AttendStep(q, fusedCache, position + 1);
            }
            var expected = Libtorch();
            var actual = Fused();
            results.Add(Compare("step: k, v into the cache", size, torchCache.select(1, position), fusedCache.select(1, position), Exact, 0, 0));
            results.Add(Compare("step: rotary + attention", size, expected, actual, AttentionUlps, Time(() => Libtorch(), device, repeats), Time(() => Fused(), device, repeats)));
        }
        GC.KeepAlive(generator);
        return results;
    }

    /// <summary>
    /// Training's attention block, forward and backward, with the fused rotary (<see cref="FusedRotary"/>) against
    /// libtorch's kernels (<see cref="Attention.forward"/> both ways, bfloat16 autocast over float32 weights): the output
    /// and the gradients of the input and of q's weights. The two differ only in rounding: the libtorch side's projection is
    /// a 2,048-row GEMM (with the rotated halves) where the fused side's has 1,536 rows.
    /// </summary>
    private static IEnumerable<Result> TrainingAttention(FusedKernels kernels, Device device, int trainingBoards, int repeats)
    {
        using var scope = NewDisposeScope();
        var generator = manual_seed(2);
        using var attention = new Attention(new Autocast { To = ScalarType.BFloat16 });
        attention.to(device);
        using var rotaryModule = new RotaryEmbedding();
        rotaryModule.to(device);
        int length = LifeGptShape.Context - 1;
        var libtorch = Attention.Rotary.For(rotaryModule, length, null);
        var fused = Attention.Rotary.For(rotaryModule, length, kernels);
        var x = randn([trainingBoards, length, LifeGptShape.Dim], ScalarType.Float32, device);
        var upstream = randn([trainingBoards, length, LifeGptShape.Dim], ScalarType.Float32, device);
        (Tensor Output, Tensor InputGrad, Tensor WeightGrad) Run(Attention.Rotary rotary)
        {
            var input = x.detach().requires_grad_();
            attention.zero_grad();
            var output = attention.forward(input, rotary);
            output.backward([upstream]);
            return (output.detach(), input.grad!.detach(), attention.to_q.weight!.grad!.detach().clone());
        }
        var expected = Run(libtorch);
        var actual = Run(fused);
        string size = $"{trainingBoards} sequences x {length} positions";
        GC.KeepAlive(generator);
        return
        [
            Compare("training attention (forward + backward): output", size, expected.Output, actual.Output, AttentionUlps,
                Time(() => Run(libtorch).Output, device, repeats), Time(() => Run(fused).Output, device, repeats)),
            Compare("training attention: input's gradient", size, expected.InputGrad, actual.InputGrad, AttentionUlps, 0, 0),
            Compare("training attention: q weights' gradient", size, expected.WeightGrad, actual.WeightGrad, AttentionUlps, 0, 0),
        ];
    }

    internal static Result Compare(string kernel, string size, Tensor expected, Tensor actual, double tolerance, double libtorchMs, double fusedMs)
    {
        using var scope = NewDisposeScope();
        var e = expected.to(ScalarType.Float32);
        var difference = (actual.to(ScalarType.Float32) - e).abs_();
        // the bfloat16 spacing, 2^(floor(log2 |e|) - 7), at |expected| or at the output's root mean square if larger: a
        // value near 0 that came out of a cancellation is as exact as the values it was computed from
        using Scalar rms = e.mul(e).mean().sqrt().item<float>().ToScalar(), mantissa = 7.0.ToScalar();
        var spacing = e.abs().clamp_min(rms).log2_().floor_().sub_(mantissa).exp2_();
        double ulps = difference.div(spacing).max().item<float>();
        return new Result(kernel, size, ulps, tolerance, difference.max().item<float>(), libtorchMs, fusedMs);
    }

    private static Tensor Scale(this Tensor t, double factor)
    {
        using Scalar f = factor.ToScalar();   // held across the call: see Scalars
        return t.mul_(f);
    }

    /// <summary>Milliseconds per call: the mean of <paramref name="repeats"/> synchronised runs after one warm-up.</summary>
    internal static double Time(Func<Tensor> work, Device device, int repeats)
    {
        using (NewDisposeScope()) work();
        cuda.synchronize(device);
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < repeats; i++)
            using (NewDisposeScope()) work();
        cuda.synchronize(device);
        return clock.Elapsed.TotalMilliseconds / repeats;
    }
}
