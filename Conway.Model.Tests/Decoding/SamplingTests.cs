using Conway.Codec;
using Conway.Decoding;
using Conway.Model.Tests.Conformance;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Conway.Model.Tests.Decoding;

/// <summary>
/// The speculative sampler's core property, at the unit level: with a one-hot draft, "keep the drafted cell unless
/// rejected, then take the replacement" yields cells distributed exactly as the model's sampling distribution,
/// whatever the draft.
/// </summary>
public sealed class CellSamplerVerifyTests
{
    private const int Cells = 100_000;
    private const double PAlive = 0.3;                  // p('1') / (p('0') + p('1')) under temperature 1, top-k 26

    [Theory]
    [InlineData(LifeGptCodec.Alive, 0.51)]              // the wrong rule "resample on rejection" gives 0.3 + 0.7 * 0.3
    [InlineData(LifeGptCodec.Dead, 0.09)]               // and 0.3 * 0.3 for a dead draft
    public void Verify_with_a_one_hot_draft_yields_the_models_alive_frequency_whatever_the_draft(long draftedCell, double resampleFrequency)
    {
        using var scope = NewDisposeScope();
        var options = new DecodeOptions { Temperature = 1, TopK = DecodeOptions.ReferenceTopK };
        using var generator = new Generator(12345, CPU);
        var sampler = new CellSampler(options, generator);
        var logits = Logits();
        var drafted = full(1, Cells, draftedCell, ScalarType.Int64);

        var (rejected, replacement) = sampler.Verify(logits, drafted);
        var output = where(rejected, replacement, drafted);

        double sigma = Math.Sqrt(PAlive * (1 - PAlive) / Cells);   // 0.00145
        double band = 5 * sigma;
        Assert.Equal(ScalarType.Bool, rejected.dtype);
        Assert.Equal(new long[] { 1, Cells }, output.shape);
        Assert.True(output.eq(LifeGptCodec.Dead).logical_or(output.eq(LifeGptCodec.Alive)).all().item<bool>(), "a cell that is neither '0' nor '1'");
        double alive = AliveFrequency(output);
        Assert.True(Math.Abs(alive - PAlive) < band, $"alive frequency {alive:F4} with a draft of '{(char)draftedCell}', expected {PAlive} +- {band:F4}");

        // the band has teeth: accepting every draft, or drawing afresh where rejected, lands far outside it
        double alwaysAccept = AliveFrequency(drafted);
        double resampled = AliveFrequency(where(rejected, sampler.Choose(logits), drafted));
        Assert.True(Math.Abs(alwaysAccept - PAlive) > 20 * band, $"always accepting gives {alwaysAccept}");
        Assert.True(Math.Abs(resampled - resampleFrequency) < band, $"resampling on rejection gives {resampled:F4}, not {resampleFrequency}");
        Assert.True(Math.Abs(resampled - PAlive) > 10 * band, $"resampling on rejection gives {resampled:F4}, inside the band");
    }

    [Fact]
    public void Choose_samples_alive_with_the_models_probability_given_that_the_token_is_a_cell()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(777, CPU);
        var sampler = new CellSampler(new DecodeOptions { Temperature = 1 }, generator);

        double alive = AliveFrequency(sampler.Choose(Logits()));

        // p('1') over all tokens is 0.3 / 1.7 = 0.176: the sampler conditions on the token being a cell
        Assert.True(Math.Abs(alive - PAlive) < 5 * Math.Sqrt(PAlive * (1 - PAlive) / Cells), $"alive frequency {alive:F4}");
    }

    /// <summary>
    /// [1, 100000, 256]: '0' and '1' with probabilities 0.7 : 0.3, two other tokens holding as much mass again (so the
    /// cells' share of the softmax is 1/1.7), every other token far below (it falls out of the top 26 or weighs nothing).
    /// </summary>
    private static Tensor Logits()
    {
        var row = full(256, -1e4f, ScalarType.Float32);
        row[LifeGptCodec.Dead] = tensor(MathF.Log(0.7f));
        row[LifeGptCodec.Alive] = tensor(MathF.Log(0.3f));
        row[' '] = tensor(MathF.Log(0.5f));
        row['$'] = tensor(MathF.Log(0.2f));
        return row.expand(1, Cells, 256).contiguous();
    }

    private static double AliveFrequency(Tensor cells) => cells.eq(LifeGptCodec.Alive).to(ScalarType.Float64).mean().item<double>();
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
                Assert.True(Math.Abs(pAlive[i] - samples.Case.PAlive[i]) <= 2e-3f, $"cell {i}: P(alive) {pAlive[i]}, reference {samples.Case.PAlive[i]}");
        }
    }
}

/// <summary>
/// End to end, speculative sampling draws from the same distribution as plain autoregressive sampling. Both
/// strategies sample conformance board 3 N times (one seeded batch each) and the per-cell alive counts are compared
/// with a two-sample statistic summed over the cells that vary. Cost bounds the design: on this 2-core CPU a sample
/// costs ~6 s with either strategy (autoregressive: 1024 steps over a growing cache; speculative: a re-scoring pass
/// per rejected cell), so N = 5 and temperature 0.5, ~60 s in all. At 0.5 the model's five wrong cells on this board
/// still come out wrong ~85% of the time while its other uncertain cells mostly settle, so a few samples separate
/// "the model's distribution" from "the rule's draft" clearly. (Simulated with the golden P(alive) as independent
/// cells: the statistic of two samples of the same distribution stays under the threshold in 2000 of 2000 trials, and
/// that of the samples against the draft exceeds 1.5 times it in 99%.) The seeds are fixed, so the outcome is too.
/// </summary>
public sealed class SamplingDistributionTests(ConformanceFixture fx, ITestOutputHelper output) : IClassFixture<ConformanceFixture>
{
    private const int N = 5;

    [SharedDataFact]
    public void Speculative_and_autoregressive_sampling_give_the_same_per_cell_alive_frequencies_and_the_rules_draft_does_not()
    {
        var board = fx.Cases[SeededSamples.Board];
        var batch = Enumerable.Repeat(board.Initial, N).ToArray();
        var options = new DecodeOptions { Temperature = 0.5f, TopK = DecodeOptions.ReferenceTopK, Seed = 99 };
        var clock = System.Diagnostics.Stopwatch.StartNew();

        int[] autoregressive = AliveCounts(fx.Predictor.Predict(batch, options with { Strategy = DecodeStrategy.Autoregressive }));
        var arTime = clock.Elapsed;
        int[] speculative = AliveCounts(fx.Predictor.Predict(batch, options with { Strategy = DecodeStrategy.Speculative }));
        int[] draft = AliveCounts(Enumerable.Repeat(new Prediction(board.Truth, null), N).ToArray());   // what the rule drafts

        var (same, sameCells) = TwoSampleStatistic(autoregressive, speculative);
        var (vsDraft, draftCells) = TwoSampleStatistic(speculative, draft);
        var (arVsDraft, arDraftCells) = TwoSampleStatistic(autoregressive, draft);   // a sampler that kept the draft
        double threshold = Threshold(sameCells), draftThreshold = Threshold(draftCells);
        output.WriteLine($"autoregressive {arTime.TotalSeconds:F1} s, speculative {(clock.Elapsed - arTime).TotalSeconds:F1} s");
        output.WriteLine($"speculative vs autoregressive: {same:F1} over {sameCells} varying cells (threshold {threshold:F1})");
        output.WriteLine($"speculative vs the rule's draft: {vsDraft:F1} over {draftCells} varying cells (threshold {draftThreshold:F1})");
        output.WriteLine($"autoregressive vs the rule's draft: {arVsDraft:F1} over {arDraftCells} varying cells (threshold {Threshold(arDraftCells):F1})");

        Assert.True(sameCells >= 3, $"only {sameCells} cells vary: the samples carry no information");
        Assert.True(same < threshold, $"speculative and autoregressive samples differ: {same:F1} >= {threshold:F1}");
        Assert.True(vsDraft > 1.5 * draftThreshold, $"the test cannot tell samples from the rule's draft: {vsDraft:F1} vs {draftThreshold:F1}");
        Assert.True(arVsDraft > 1.5 * Threshold(arDraftCells), $"a sampler that kept the draft would pass: {arVsDraft:F1} vs {Threshold(arDraftCells):F1}");
    }

    /// <summary>Generous: for two samples of one distribution the statistic averages well under one per varying cell.</summary>
    private static double Threshold(int cells) => 2 * cells + 10;

    private static int[] AliveCounts(IReadOnlyList<Prediction> predictions)
    {
        var counts = new int[Conway.Boards.Board.Cells];
        foreach (var p in predictions)
        {
            string cells = p.Next.ToCells();
            for (int i = 0; i < counts.Length; i++) counts[i] += cells[i] - '0';
        }
        return counts;
    }

    /// <summary>
    /// Sum over cells that vary in either sample of (fa - fb)^2 / ((va + vb) / N): the frequencies' squared
    /// difference over its variance, each side's variance estimated from its own counts with half a count added
    /// (so a constant side still has some, and the rule's constant draft is judged by the samples' spread).
    /// </summary>
    private static (double Statistic, int Cells) TwoSampleStatistic(int[] a, int[] b)
    {
        double statistic = 0;
        int cells = 0;
        for (int i = 0; i < a.Length; i++)
        {
            if (a[i] + b[i] is 0 or 2 * N) continue;
            cells++;
            double va = (a[i] + 0.5) * (N - a[i] + 0.5) / ((N + 1.0) * (N + 1.0));
            double vb = (b[i] + 0.5) * (N - b[i] + 0.5) / ((N + 1.0) * (N + 1.0));
            double difference = (a[i] - b[i]) / (double)N;
            statistic += difference * difference / ((va + vb) / N);
        }
        return (statistic, cells);
    }
}
