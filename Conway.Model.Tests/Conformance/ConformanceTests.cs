using Conway.Boards;
using Conway.Codec;
using Conway.Decoding;
using static TorchSharp.torch;

namespace Conway.Model.Tests.Conformance;

public sealed class ConformanceTests(ConformanceFixture fx) : IClassFixture<ConformanceFixture>
{
    [SharedDataFact]
    public void Golden_file_is_a_model_that_disagrees_with_the_rule()
    {
        // guards the premise: matching these outputs proves the port only because they differ from the rule
        foreach (var c in fx.Cases)
        {
            Assert.Equal(LifeRule.Step(c.Initial), c.Truth);
            Assert.Equal(c.WrongVsTruth, c.Reference.CountDifferences(c.Truth));
            Assert.True(c.WrongVsTruth > 0);
        }
    }

    [SharedDataTheory]
    [InlineData(DecodeStrategy.Autoregressive)]
    [InlineData(DecodeStrategy.Speculative)]
    public void Greedy_decoding_reproduces_the_reference_cells_and_probabilities_on_all_four_boards(DecodeStrategy strategy)
    {
        var predictions = fx.Predictor.Predict(fx.Initial, new DecodeOptions { Strategy = strategy, IncludeProbabilities = true });

        for (int i = 0; i < fx.Cases.Length; i++)
        {
            var expected = fx.Cases[i];
            Assert.Equal(expected.Reference.ToCells(), predictions[i].Next.ToCells());
            var pAlive = predictions[i].PAlive!;
            float worst = pAlive.Select((p, cell) => Math.Abs(p - expected.PAlive[cell])).Max();
            Assert.True(worst <= ConformanceFixture.PAliveTolerance, $"board {i}: P(alive) differs from the reference by up to {worst}");
        }
    }

    [SharedDataTheory]
    [InlineData(true)]    // later passes re-score from the earliest re-drafted cell over the cache (the CPU's default)
    [InlineData(false)]   // every pass re-scores the whole sequence (CUDA's default)
    public void Self_drafting_takes_fewer_passes_than_the_rules_draft_would_and_still_gives_the_reference_cells(bool reuseCache)
    {
        var predictions = fx.Predictor.Predict(fx.Initial, DecodeOptions.Greedy with { ReuseCacheAcrossPasses = reuseCache });

        for (int i = 0; i < fx.Cases.Length; i++)
        {
            var expected = fx.Cases[i];
            Assert.Equal(expected.Reference.ToCells(), predictions[i].Next.ToCells());
            // with the rule as the only draft, every cell where the model leaves the rule is rejected in a pass of its own:
            // at least that many passes (one more unless the last such cell is the board's last)
            Assert.True(predictions[i].Passes < expected.WrongVsTruth,
                $"board {i}: {predictions[i].Passes} passes, no fewer than the rule's draft needs ({expected.WrongVsTruth} or more)");
        }
    }

    [SharedDataTheory]
    [InlineData(0f)]   // the pass's choices as they are
    [InlineData(4f)]   // flips choices far from a tie too: drafts that are wrong more often than not
    public void The_flip_margin_changes_only_the_drafts_never_the_reference_cells(float flipMargin)
    {
        var predictions = fx.Predictor.Predict(fx.Initial, DecodeOptions.Greedy with { FlipMargin = flipMargin });

        for (int i = 0; i < fx.Cases.Length; i++)
            Assert.Equal(fx.Cases[i].Reference.ToCells(), predictions[i].Next.ToCells());
    }

    [SharedDataTheory]
    [InlineData(1, true)]    // the plain continuation prefills the cache from position 0
    [InlineData(2, true)]    // it continues over the cache the second pass built
    [InlineData(2, false)]   // no cache across passes: it prefills from position 0
    public void Boards_left_unfinished_by_the_pass_bound_continue_plainly_to_the_reference_cells_and_probabilities(int maxPasses, bool reuseCache)
    {
        var unbounded = fx.Predictor.Predict(fx.Initial, DecodeOptions.Greedy);
        var predictions = fx.Predictor.Predict(fx.Initial,
            new DecodeOptions { MaxPasses = maxPasses, ReuseCacheAcrossPasses = reuseCache, IncludeProbabilities = true });

        Assert.Contains(unbounded, p => p.Passes > maxPasses);                   // the bound is reached on some board
        for (int i = 0; i < fx.Cases.Length; i++)
        {
            var expected = fx.Cases[i];
            Assert.Equal(expected.Reference.ToCells(), predictions[i].Next.ToCells());
            float worst = predictions[i].PAlive!.Select((p, cell) => Math.Abs(p - expected.PAlive[cell])).Max();
            Assert.True(worst <= ConformanceFixture.PAliveTolerance, $"board {i}: P(alive) differs from the reference by up to {worst}");
            Assert.Equal(Math.Min(unbounded[i].Passes!.Value, maxPasses), predictions[i].Passes);
            if (unbounded[i].Passes > maxPasses) Assert.InRange(predictions[i].PlainCells!.Value, 1, Board.Cells - 1);
            else Assert.Equal(0, predictions[i].PlainCells);
        }
    }

    [SharedDataTheory]
    [InlineData(true)]
    [InlineData(false)]
    public void The_rent_or_buy_check_times_plain_steps_whose_cells_join_the_reference_output(bool reuseCache)
    {
        // checking after the first pass: the check's timed plain steps settle cells, whichever way it then decides
        var predictions = fx.Predictor.Predict(fx.Initial,
            DecodeOptions.Greedy with { PassesBeforeFallbackCheck = 1, ReuseCacheAcrossPasses = reuseCache, IncludeProbabilities = true });

        for (int i = 0; i < fx.Cases.Length; i++)
        {
            Assert.Equal(fx.Cases[i].Reference.ToCells(), predictions[i].Next.ToCells());
            float worst = predictions[i].PAlive!.Select((p, cell) => Math.Abs(p - fx.Cases[i].PAlive[cell])).Max();
            Assert.True(worst <= ConformanceFixture.PAliveTolerance, $"board {i}: P(alive) differs from the reference by up to {worst}");
        }
        Assert.Contains(predictions, p => p.PlainCells is > 0 and <= Board.Cells - 1);
    }

    [SharedDataTheory]
    [InlineData(false)]   // the CPU's per-head step attention
    [InlineData(true)]    // CUDA's block-diagonal step attention, here in fp32
    public void Cached_decoding_gives_the_logits_of_one_uncached_forward_pass(bool blockDiagonalSteps)
    {
        using var predictor = LifeGptPredictor.Load(ConformanceFixture.CheckpointPath, "cpu");   // its own: the step form is set below
        var model = predictor.Model;
        model.PrepareForDecoding(blockDiagonalSteps);
        using var _ = inference_mode();
        using var scope = NewDisposeScope();
        var boards = fx.Initial.Take(2).ToArray();
        var cells = LifeGptCodec.CellTokens(fx.Cases.Take(2).Select(c => c.Reference).ToArray(), CPU);
        var sequence = cat([LifeGptCodec.Prompts(boards, CPU), cells], 1);          // [2, 2069]
        var uncached = model.forward(sequence)                                       // training's forward, no cache
            .narrow(1, LifeGptCodec.PromptLength - 1, Board.Cells);

        using var cache = new KvCache(2, ScalarType.Float32, CPU);                   // decoding's pass and steps
        var pieces = new List<Tensor> { model.Pass(sequence.narrow(1, 0, LifeGptCodec.PromptLength), 0, cache, LifeGptCodec.PromptLength - 1, cellsOnly: false) };
        const int steps = 40;                                                        // one token at a time ...
        for (int i = 0; i < steps; i++)
            pieces.Add(model.Step(sequence.select(1, LifeGptCodec.PromptLength + i), LifeGptCodec.PromptLength + i, cache, cellsOnly: false));
        int rest = Board.Cells - 1 - steps;                                          // ... then one chunk at an offset
        pieces.Add(model.Pass(sequence.narrow(1, LifeGptCodec.PromptLength + steps, rest), LifeGptCodec.PromptLength + steps, cache, 0, cellsOnly: false));
        var cached = cat(pieces, 1);

        Assert.Equal(uncached.shape, cached.shape);
        double maxDiff = (cached - uncached).abs().max().item<float>();
        double scale = uncached.abs().max().item<float>();
        Assert.True(maxDiff < 1e-4 * scale, $"cached and uncached logits differ by {maxDiff} (logits up to {scale})");
    }
}
