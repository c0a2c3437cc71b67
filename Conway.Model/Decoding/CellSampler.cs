using Conway.Codec;
using static TorchSharp.torch;

namespace Conway.Decoding;

/// <summary>
/// Turns logits [B, L, 256] into cells, greedy or sampled, on the device (no host synchronisation). Greedy decoding
/// also takes logits [B, L, 2] holding only the columns of '0' and '1' (see <see cref="FusedLifeGpt"/>).
/// </summary>
internal sealed class CellSampler(DecodeOptions options, Generator? generator)
{
    /// <summary>The model's cell for each position: tokens '0'/'1', [B, L].</summary>
    public Tensor Choose(Tensor logits)
    {
        var alive = options.IsGreedy
            ? Logit(logits, LifeGptCodec.Alive).gt(Logit(logits, LifeGptCodec.Dead))   // a tie goes to '0', as argmax does
            : Uniform(logits).lt(SamplingProbabilityAlive(logits));
        return alive.to(ScalarType.Int64).add_(LifeGptCodec.Dead);
    }

    /// <summary>
    /// Checks drafted cells [B, L] against the model. Greedy: rejected where the model's choice differs, and the
    /// replacement is that choice. Sampling (one-hot draft): accepted with the model's probability of the drafted
    /// cell, otherwise replaced by the other cell, which is exactly the residual distribution.
    /// </summary>
    public (Tensor Rejected, Tensor Replacement) Verify(Tensor logits, Tensor drafted)
    {
        if (options.IsGreedy)
        {
            var choice = Choose(logits);
            return (choice.ne(drafted), choice);
        }
        var pAlive = SamplingProbabilityAlive(logits);
        var pDrafted = where(drafted.eq(LifeGptCodec.Alive), pAlive, 1 - pAlive);
        var other = (LifeGptCodec.Dead + LifeGptCodec.Alive) - drafted;
        return (Uniform(logits).ge(pDrafted), other);
    }

    /// <summary>P(alive) = p('1') under the model's full softmax at temperature 1, float32 [B, L].</summary>
    public static Tensor ProbabilityAlive(Tensor logits) =>
        Logit(logits.to(ScalarType.Float32).softmax(-1), LifeGptCodec.Alive);

    /// <summary>
    /// The sampling distribution's P(alive) given that the token is a cell: logits / temperature, the top-k kept
    /// (the reference sampler's filter), then p('1') / (p('0') + p('1')). If top-k dropped both cells the larger logit wins.
    /// </summary>
    private Tensor SamplingProbabilityAlive(Tensor logits)
    {
        var scaled = logits.to(ScalarType.Float32) / options.Temperature;
        var (kept, _) = scaled.topk(Math.Clamp(options.TopK, 1, (int)scaled.shape[^1]), dim: -1);
        var threshold = kept.narrow(-1, kept.shape[^1] - 1, 1);
        var probabilities = scaled.masked_fill(scaled.lt(threshold), float.NegativeInfinity).softmax(-1);
        var p0 = Logit(probabilities, LifeGptCodec.Dead);
        var p1 = Logit(probabilities, LifeGptCodec.Alive);
        var total = p0 + p1;
        var fallback = Logit(scaled, LifeGptCodec.Alive).gt(Logit(scaled, LifeGptCodec.Dead)).to(ScalarType.Float32);
        return where(total.gt(0), p1 / total.clamp_min(float.Epsilon), fallback);
    }

    private Tensor Uniform(Tensor logits) =>
        rand([logits.shape[0], logits.shape[1]], ScalarType.Float32, logits.device, generator: generator);

    private static Tensor Logit(Tensor values, long token) =>
        values.select(-1, values.shape[^1] == 2 ? token - LifeGptCodec.Dead : token);
}
