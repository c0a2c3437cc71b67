using Conway.Codec;
using Conway.Decoding;
using Conway.Model.Tests.Conformance;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Conway.Model.Tests.Decoding;

/// <summary>
/// The sampler at the unit level. Sampling turns one uniform number per cell into a cell (alive below P(alive | a
/// cell)); verifying a one-hot draft keeps it where that choice agrees. Together: the draft's cell survives with the
/// draft's own probability under the model, the standard speculative-sampling acceptance, whatever the draft.
/// </summary>
public sealed class CellSamplerTests
{
    private const int Cells = 100_000;
    private const double PAlive = 0.3;                  // p('1') / (p('0') + p('1')) under temperature 1, top-k 26

    [Fact]
    public void Choose_samples_alive_with_the_models_probability_given_that_the_token_is_a_cell()
    {
        using var scope = NewDisposeScope();
        using var sampler = new CellSampler(new DecodeOptions { Temperature = 1 });

        double alive = AliveFrequency(sampler.Choose(Logits(), Uniform(777)));

        // p('1') over all tokens is 0.3 / 1.7 = 0.176: the sampler conditions on the token being a cell
        Assert.True(Math.Abs(alive - PAlive) < Band, $"alive frequency {alive:F4}");
    }

    [Theory]
    [InlineData(LifeGptCodec.Alive, PAlive)]
    [InlineData(LifeGptCodec.Dead, 1 - PAlive)]
    public void A_one_hot_draft_survives_verification_with_the_drafts_own_probability_and_the_output_keeps_the_models(long draftedCell, double survival)
    {
        using var scope = NewDisposeScope();
        using var sampler = new CellSampler(new DecodeOptions { Temperature = 1, TopK = DecodeOptions.ReferenceTopK });
        using var draftedToken = draftedCell.ToScalar();
        var drafted = full(1, Cells, draftedToken, ScalarType.Int64);

        var choice = sampler.Choose(Logits(), Uniform(12345));          // what the decoder keeps where the draft is rejected
        var accepted = choice.eq(drafted);
        var output = where(accepted, drafted, choice);

        double acceptance = accepted.to(ScalarType.Float64).mean().item<double>();
        Assert.True(Math.Abs(acceptance - survival) < Band, $"a drafted '{(char)draftedCell}' survives {acceptance:F4} of the time, not {survival}");
        double alive = AliveFrequency(output);
        Assert.True(Math.Abs(alive - PAlive) < Band, $"alive frequency {alive:F4} with a draft of '{(char)draftedCell}', expected {PAlive} +- {Band:F4}");
        // the band has teeth: a sampler that kept every draft lands far outside it
        Assert.True(Math.Abs(AliveFrequency(drafted) - PAlive) > 20 * Band);
    }

    [Fact]
    public void A_boards_uniforms_depend_only_on_the_seed_and_its_stream_never_on_its_neighbours()
    {
        using var scope = NewDisposeScope();
        var options = new DecodeOptions { Temperature = 1, Seed = 42 };

        var three = CellSampler.Uniforms(3, options, CPU)!;
        var lastTwo = CellSampler.Uniforms(2, options with { StreamOffset = 1 }, CPU)!;
        var otherSeed = CellSampler.Uniforms(3, options with { Seed = 43 }, CPU)!;

        Assert.Equal(new long[] { 3, Conway.Boards.Board.Cells }, three.shape);
        Assert.True(Same(three.narrow(0, 1, 2), lastTwo), "board 1 of a call and board 0 of the call that starts at stream 1 differ");
        Assert.False(Same(three[0], three[1]), "two boards of one request draw the same numbers");
        Assert.False(Same(three, otherSeed), "another seed gives the same numbers");
        Assert.True(Same(CellSampler.Uniforms(3, options, CPU)!, three), "the same seed gives other numbers");
        Assert.Null(CellSampler.Uniforms(3, DecodeOptions.Greedy, CPU));
    }

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    private static double Band => 5 * Math.Sqrt(PAlive * (1 - PAlive) / Cells);   // 0.0072

    private static Tensor Uniform(ulong seed)
    {
        using var generator = new Generator(seed, CPU);
        return rand([1, Cells], ScalarType.Float32, CPU, generator: generator);
    }

    /// <summary>
    /// [1, 100000, 256]: '0' and '1' with probabilities 0.7 : 0.3, two other tokens holding as much mass again (so the
    /// cells' share of the softmax is 1/1.7), every other token far below (it falls out of the top 26 or weighs nothing).
    /// </summary>
    private static Tensor Logits()
    {
        using var far = (-1e4f).ToScalar();
        var row = full(256, far, ScalarType.Float32);
        row[LifeGptCodec.Dead] = tensor(MathF.Log(0.7f));
        row[LifeGptCodec.Alive] = tensor(MathF.Log(0.3f));
        row[' '] = tensor(MathF.Log(0.5f));
        row['$'] = tensor(MathF.Log(0.2f));
        return row.expand(1, Cells, 256).contiguous();
    }

    private static double AliveFrequency(Tensor cells) => cells.eq(LifeGptCodec.AliveToken).to(ScalarType.Float64).mean().item<double>();
}

/// <summary>
/// Seeded sampling with the conformance checkpoint (an under-trained model: its cells are uncertain, so samples
/// differ) on CPU: temperature 1, the reference top-k 26, speculative decoding, two copies of conformance board 3
/// (the board on which the model is least uncertain, so sampling is cheapest: ~3 s a board here).
/// </summary>
public sealed class SeededSamples : IDisposable
{
    public const int Board = 3;

    private readonly ConformanceFixture _fx = new();
    private readonly Lazy<(IReadOnlyList<Prediction> A, IReadOnlyList<Prediction> Again, IReadOnlyList<Prediction> B)> _runs;

    public SeededSamples()
    {
        _runs = new(() =>
        {
            var boards = new[] { Case.Initial, Case.Initial };
            IReadOnlyList<Prediction> Run(long seed) => _fx.Predictor.Predict(boards, new DecodeOptions
            {
                Temperature = 1, TopK = DecodeOptions.ReferenceTopK, Seed = seed, IncludeProbabilities = true,
            });
            return (Run(2024), Run(2024), Run(7));
        });
    }

    public GoldenCase Case => _fx.Cases[Board];
    public IReadOnlyList<Prediction> SeedA => _runs.Value.A;
    public IReadOnlyList<Prediction> SeedAAgain => _runs.Value.Again;
    public IReadOnlyList<Prediction> SeedB => _runs.Value.B;

    public void Dispose() => _fx.Dispose();
}

public sealed class SeededSamplingTests(SeededSamples samples) : IClassFixture<SeededSamples>
{
    [SharedDataFact]
    public void Seeded_sampling_is_reproducible_and_another_seed_gives_other_boards()
    {
        var truth = samples.Case.Truth;

        Assert.Equal(samples.SeedA.Select(p => p.Next), samples.SeedAAgain.Select(p => p.Next));
        Assert.Equal(samples.SeedA.Select(p => p.PAlive), samples.SeedAAgain.Select(p => p.PAlive));
        Assert.NotEqual(samples.SeedA.Select(p => p.Next), samples.SeedB.Select(p => p.Next));
        // really sampled: the two rows of a batch draw their own cells, and the samples are neither the rule's
        // next state nor the model's greedy answer
        Assert.NotEqual(samples.SeedA[0].Next, samples.SeedA[1].Next);
        Assert.All(samples.SeedA.Concat(samples.SeedB), p => Assert.NotEqual(truth, p.Next));
        Assert.Contains(samples.SeedA.Concat(samples.SeedB), p => p.Next != samples.Case.Reference);
    }

    [SharedDataFact]
    public void Sampling_with_probabilities_returns_p_alive_per_cell_within_0_and_1_and_the_models_value_on_the_greedy_prefix()
    {
        var reference = samples.Case.Reference.ToCells();
        foreach (var prediction in samples.SeedA.Concat(samples.SeedB))
        {
            var pAlive = prediction.PAlive;
            Assert.NotNull(pAlive);
            Assert.Equal(Conway.Boards.Board.Cells, pAlive.Length);
            Assert.All(pAlive, p => Assert.InRange(p, 0f, 1f));
            // until a sample first leaves the greedy path its context is the reference's, so P(alive) is the golden one
            string cells = prediction.Next.ToCells();
            int same = Enumerable.Range(0, cells.Length).FirstOrDefault(i => cells[i] != reference[i], cells.Length);
            for (int i = 0; i <= Math.Min(same, Conway.Boards.Board.Cells - 1); i++)
                Assert.True(Math.Abs(pAlive[i] - samples.Case.PAlive[i]) <= ConformanceFixture.PAliveTolerance, $"cell {i}: P(alive) {pAlive[i]}, reference {samples.Case.PAlive[i]}");
        }
    }
}

/// <summary>
/// End to end, speculative sampling is plain autoregressive sampling: both decide each cell by the same rule from the
/// same per-cell uniform number (<see cref="CellSampler"/>), so with one seed they give the same boards, not merely the
/// same distribution. Conformance board 3, temperature 0.5, top-k 26, three samples in one seeded batch (~6 s a
/// sample on this 2-core CPU with either strategy). At 0.5 the model's five wrong cells on this board still come out
/// wrong ~85% of the time, so the samples are not the rule's next state that speculative decoding drafts.
/// </summary>
public sealed class SamplingDistributionTests(ConformanceFixture fx) : IClassFixture<ConformanceFixture>
{
    [SharedDataFact]
    public void Speculative_sampling_bounded_or_not_gives_autoregressive_samplings_boards_for_one_seed_and_not_the_rules_draft()
    {
        var board = fx.Cases[SeededSamples.Board];
        var batch = Enumerable.Repeat(board.Initial, 3).ToArray();
        var options = new DecodeOptions { Temperature = 0.5f, TopK = DecodeOptions.ReferenceTopK, Seed = 99 };

        var autoregressive = fx.Predictor.Predict(batch, options with { Strategy = DecodeStrategy.Autoregressive });
        var speculative = fx.Predictor.Predict(batch, options with { Strategy = DecodeStrategy.Speculative });
        var bounded = fx.Predictor.Predict(batch, options with { Strategy = DecodeStrategy.Speculative, MaxPasses = 1 });

        Assert.Equal(autoregressive.Select(p => p.Next.ToCells()), speculative.Select(p => p.Next.ToCells()));
        Assert.Equal(autoregressive.Select(p => p.Next.ToCells()), bounded.Select(p => p.Next.ToCells()));   // the plain continuation too
        Assert.Contains(bounded, p => p.PlainCells > 0);
        Assert.All(speculative, p => Assert.NotEqual(board.Truth, p.Next));              // not the draft kept
        Assert.Equal(3, speculative.Select(p => p.Next).Distinct().Count());            // each board its own sample
    }
}
