using Conway.Boards;
using Conway.Codec;
using Conway.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Conway.Decoding;

/// <summary>
/// Turns logits [B, L, 256] into cells on the device (no host synchronisation). Greedy decoding also takes logits
/// [B, L, 2] holding only the columns of '0' and '1' (see <see cref="LifeGpt.Pass"/>).
/// <para>
/// Sampling is driven by one uniform number per cell of each board, drawn up front from that board's own random
/// stream (<see cref="Uniforms"/>): cell j is alive exactly when u[j] &lt; P(alive | the token is a cell). Plain
/// decoding applies this rule step by step. Speculative decoding applies it to every drafted cell of a pass and
/// accepts the draft where the rule agrees: a drafted '1' survives with probability P(alive) and a drafted '0' with
/// 1 - P(alive), the draft's own probability, and a rejected cell becomes the other cell, which is the residual of a
/// one-hot draft; that is the standard speculative-sampling acceptance. Cell j's number decides nothing before the
/// cells ahead of it are final, and those depend only on the numbers of cells ahead of it, so re-verifying cell j in
/// a later pass with the same number is sound. Both strategies therefore give the same sample for the same seed,
/// and a board's sample depends on its seed and its place in its request, never on what it is batched with.
/// </para>
/// </summary>
internal sealed class CellSampler(DecodeOptions options) : IDisposable
{
    private static readonly Scalar Tiny = float.Epsilon.ToScalar();   // held: see Scalars
    private readonly Scalar? _temperature = options.IsGreedy ? null : options.Temperature.ToScalar();

    /// <summary>
    /// The model's cell for each position, tokens '0'/'1' [B, L]. Greedy: the larger logit (a tie goes to '0', as
    /// argmax does). Sampling: alive where <paramref name="uniforms"/> [B, L] lies below P(alive).
    /// </summary>
    public Tensor Choose(Tensor logits, Tensor? uniforms) => _temperature is null
        ? Greedy(logits)
        : Cells((uniforms ?? throw new ArgumentNullException(nameof(uniforms), "sampling needs the cells' uniform numbers"))
            .lt(SamplingProbabilityAlive(logits, _temperature)));

    /// <summary>Greedy decoding's cell for each position, tokens '0'/'1' [B, L]: the larger logit (a tie goes to '0', as argmax does).</summary>
    public static Tensor Greedy(Tensor logits) => Cells(Logit(logits, LifeGptCodec.Alive).gt(Logit(logits, LifeGptCodec.Dead)));

    /// <summary>Greedy decoding's margin for each position, float32 [B, L]: logit('1') - logit('0'), positive where the cell is alive.</summary>
    public static Tensor Margins(Tensor logits) =>
        Logit(logits, LifeGptCodec.Alive).to(ScalarType.Float32).sub(Logit(logits, LifeGptCodec.Dead).to(ScalarType.Float32));

    private static Tensor Cells(Tensor alive) => alive.to(ScalarType.Int64).add_(LifeGptCodec.DeadToken, Scalars.One);

    /// <summary>
    /// For sampling, [B, 1024] float32 uniforms on <paramref name="device"/>: board b's from the random stream
    /// (<see cref="DecodeOptions.Seed"/>, <see cref="DecodeOptions.StreamOffset"/> + b), drawn on the CPU so that a
    /// seed means the same numbers on every device. Without a seed, a fresh one. Null for greedy decoding.
    /// </summary>
    public static Tensor? Uniforms(int boards, DecodeOptions options, Device device)
    {
        if (options.IsGreedy) return null;
        long seed = options.Seed ?? Random.Shared.NextInt64();
        var rows = new Tensor[boards];
        for (int b = 0; b < boards; b++)
        {
            using var stream = new Generator(StreamSeed(seed, options.StreamOffset + b), CPU);
            rows[b] = rand([Board.Cells], ScalarType.Float32, CPU, generator: stream);
        }
        return stack(rows).to(device);
    }

    /// <summary>P(alive) = p('1') under the model's full softmax at temperature 1, float32 [B, L].</summary>
    public static Tensor ProbabilityAlive(Tensor logits) =>
        Logit(logits.to(ScalarType.Float32).softmax(-1), LifeGptCodec.Alive);

    /// <summary>
    /// The sampling distribution's P(alive) given that the token is a cell: logits / temperature, the top-k kept
    /// (the reference sampler's filter), then p('1') / (p('0') + p('1')). If top-k dropped both cells the larger logit wins.
    /// </summary>
    private Tensor SamplingProbabilityAlive(Tensor logits, Scalar temperature)
    {
        var scaled = logits.to(ScalarType.Float32).div(temperature);
        var (kept, _) = scaled.topk(Math.Clamp(options.TopK, 1, (int)scaled.shape[^1]), dim: -1);
        var threshold = kept.narrow(-1, kept.shape[^1] - 1, 1);
        var probabilities = scaled.masked_fill(scaled.lt(threshold), Scalars.NegativeInfinity).softmax(-1);
        var p0 = Logit(probabilities, LifeGptCodec.Dead);
        var p1 = Logit(probabilities, LifeGptCodec.Alive);
        var total = p0.add(p1, Scalars.One);
        var fallback = Logit(scaled, LifeGptCodec.Alive).gt(Logit(scaled, LifeGptCodec.Dead)).to(ScalarType.Float32);
        return where(total.gt(Scalars.Zero), p1 / total.clamp_min(Tiny), fallback);
    }

    /// <summary>SplitMix64 of the seed and the stream's index: well-separated generator seeds for neighbouring streams.</summary>
    private static ulong StreamSeed(long seed, int stream)
    {
        ulong z = unchecked((ulong)seed + 0x9E3779B97F4A7C15UL * (ulong)(stream + 1));
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return z ^ (z >> 31);
    }

    private static Tensor Logit(Tensor values, long token) =>
        values.select(-1, values.shape[^1] == 2 ? token - LifeGptCodec.Dead : token);

    public void Dispose() => _temperature?.Dispose();
}
