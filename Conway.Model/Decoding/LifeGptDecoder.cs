using Conway.Boards;
using Conway.Codec;
using Conway.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Conway.Decoding;

/// <summary>
/// Batched, KV-cached decoding of the 1024 next-state cells. Cells are restricted to '0'/'1': greedy picks the
/// larger of the two logits (the reference's argmax over all 256 whenever that is a cell, as it is for any
/// trained model), sampling draws from the model's temperature/top-k distribution conditioned on a cell.
/// </summary>
public sealed class LifeGptDecoder(FusedLifeGpt model)
{
    /// <summary>
    /// Decodes a batch. <paramref name="cancellation"/> is checked between decode steps (plain) and between the layers
    /// of every pass: a cancelled batch throws <see cref="OperationCanceledException"/> within one step or one layer.
    /// </summary>
    public IReadOnlyList<Prediction> Decode(IReadOnlyList<Board> boards, DecodeOptions options, CancellationToken cancellation = default)
    {
        if (boards.Count == 0) return [];
        using var _ = inference_mode();
        using var scope = NewDisposeScope();
        using var sampler = new CellSampler(options);
        var uniforms = CellSampler.Uniforms(boards.Count, options, model.Device);   // sampling: each board's own stream
        bool cellsOnly = options.IsGreedy && !options.IncludeProbabilities;   // then '0' and '1' are all the logits needed
        var (cells, pAlive, passes) = options.Strategy == DecodeStrategy.Autoregressive
            ? Autoregressive(boards, sampler, uniforms, options.IncludeProbabilities, cellsOnly, cancellation)
            : Speculative(boards, sampler, uniforms, options.IncludeProbabilities, cellsOnly, cancellation);

        var next = LifeGptCodec.Boards(cells);
        float[][]? probabilities = pAlive is null ? null : Rows(pAlive);
        return next.Select((b, i) => new Prediction(b, probabilities?[i]) { Passes = passes?[i] }).ToArray();
    }

    /// <summary>Plain decoding: a prefill over the prompts, then one model step per cell for the whole batch.</summary>
    private (Tensor Cells, Tensor? PAlive, int[]? Passes) Autoregressive(IReadOnlyList<Board> boards, CellSampler sampler, Tensor? uniforms,
        bool withProbabilities, bool cellsOnly, CancellationToken cancellation)
    {
        long batch = boards.Count;
        using var cache = new KvCache(batch, model.Dtype, model.Device);
        var cells = empty(batch, Board.Cells, ScalarType.Int64, model.Device);
        var pAlive = withProbabilities ? empty(batch, Board.Cells, ScalarType.Float32, model.Device) : null;

        var logits = model.Forward(LifeGptCodec.Prompts(boards, model.Device), 0, cache, LifeGptCodec.PromptLength - 1, cellsOnly, cancellation);
        for (int i = 0; i < Board.Cells; i++)
        {
            cancellation.ThrowIfCancellationRequested();                   // host-side: costs no synchronisation
            using var step = NewDisposeScope();
            var token = sampler.Choose(logits, uniforms?.narrow(1, i, 1));   // [B, 1], stays on the device: no sync
            cells.narrow(1, i, 1).copy_(token);
            pAlive?.narrow(1, i, 1).copy_(CellSampler.ProbabilityAlive(logits));
            if (i == Board.Cells - 1) break;
            logits = model.Step(token.view(-1), LifeGptCodec.PromptLength + i, cache, cellsOnly).MoveToOuterDisposeScope();
        }
        return (cells, pAlive, null);
    }

    /// <summary>
    /// Speculative decoding with the exact rule as the drafter. The rule's next state is appended to the prompt and
    /// the model scores all 1024 drafted cells in one pass. Each board keeps the longest prefix the model accepts
    /// (its own choice, greedy or sampled by <see cref="CellSampler"/>, equals the draft) and takes the model's cell at
    /// the first rejection. After it, the draft becomes the model's own choices from that pass (Jacobi-style self-drafting:
    /// the rule is right for a good model, the model's stale choices for a poor one, whose disagreements with the rule
    /// would otherwise cost a pass each). Then the boards not yet done re-score the rest of their draft from the
    /// earliest changed position on, reusing the KV cache before it. Only the verified prefix is kept, so the output is
    /// plain decoding's, for any model; for sampling, the stale choice came from the same per-cell uniform number as the
    /// verification (<see cref="CellSampler"/>), which makes the acceptance min(1, p/q) with the other cell as residual.
    /// The first pass keeps no cache (a trained model accepts nearly every draft whole, and a cache costs a copy of
    /// every key and value, ~10% of the pass, and 51 MB a board); if boards remain, the second pass runs from the start
    /// and builds it.
    /// </summary>
    private (Tensor Cells, Tensor? PAlive, int[] Passes) Speculative(IReadOnlyList<Board> boards, CellSampler sampler, Tensor? uniforms,
        bool withProbabilities, bool cellsOnly, CancellationToken cancellation)
    {
        int batch = boards.Count;
        var device = model.Device;
        var draft = LifeGptCodec.CellTokens(boards.Select(b => LifeRule.Step(b)).ToArray(), device);
        var tokens = cat([LifeGptCodec.Prompts(boards, device), draft], 1);  // [B, 2069], corrected in place
        var pAlive = withProbabilities ? zeros(batch, Board.Cells, ScalarType.Float32, device) : null;
        var settled = new int[batch];                                       // cells decided, per board
        var passes = new int[batch];
        var active = Enumerable.Range(0, batch).ToList();                   // boards still decoding, in cache order
        KvCache? cache = null;
        try
        {
            for (int start = 0; active.Count > 0;)
            {
                cancellation.ThrowIfCancellationRequested();
                using var pass = NewDisposeScope();
                int from = active.Min(b => settled[b]);                     // the earliest undecided cell
                var rows = tensor(active.Select(b => (long)b).ToArray(), ScalarType.Int64, device);
                var sequences = tokens.index_select(0, rows);
                // logits at position p predict cell p - 1044: those of cells from..1023
                var logits = model.Forward(sequences.narrow(1, start, LifeGptCodec.CellsEnd - 1 - start), start, cache,
                    LifeGptCodec.PromptLength - 1 + from - start, cellsOnly, cancellation);
                var drafted = sequences.narrow(1, LifeGptCodec.PromptLength + from, Board.Cells - from);
                var replacement = sampler.Choose(logits, uniforms?.index_select(0, rows).narrow(1, from, Board.Cells - from));
                var rejected = replacement.ne(drafted);

                // the first rejected cell at or after each board's own settled count (one host read per pass)
                using Scalar firstCell = from.ToScalar(), end = Board.Cells.ToScalar();   // held across the call: see Scalars
                var cellIndex = arange(firstCell, end, Scalars.One, ScalarType.Int64, device).unsqueeze(0);
                var own = tensor(active.Select(b => (long)settled[b]).ToArray(), ScalarType.Int64, device).unsqueeze(1);
                var candidates = rejected.logical_and(cellIndex.ge(own));
                var first = candidates.to(ScalarType.Int64).argmax(1, keepdim: true);
                // per board: any rejection, and the first one (relative to from)
                long[] verdict = cat([candidates.any(1, keepdim: true).to(ScalarType.Int64), first], 1).cpu().data<long>().ToArray();
                var probability = pAlive is null ? null : CellSampler.ProbabilityAlive(logits);

                var stillActive = new List<int>();
                for (int a = 0; a < active.Count; a++)
                {
                    int b = active[a];
                    passes[b]++;
                    bool rejects = verdict[2 * a] != 0;
                    int decided = rejects ? from + (int)verdict[2 * a + 1] + 1 : Board.Cells;
                    if (probability is not null)
                        pAlive!.narrow(0, b, 1).narrow(1, settled[b], decided - settled[b])
                            .copy_(probability.narrow(0, a, 1).narrow(1, settled[b] - from, decided - settled[b]));
                    if (rejects)   // the model's cell at the rejection, and its own choices after it as the next draft
                        tokens.narrow(0, b, 1).narrow(1, LifeGptCodec.PromptLength + decided - 1, Board.Cells - decided + 1)
                            .copy_(replacement.narrow(0, a, 1).narrow(1, decided - 1 - from, Board.Cells - decided + 1));
                    settled[b] = decided;
                    if (decided < Board.Cells) stillActive.Add(a);
                }
                if (stillActive.Count == 0) break;
                if (cache is not null && stillActive.Count < active.Count)
                {
                    var keep = tensor(stillActive.Select(a => (long)a).ToArray(), ScalarType.Int64, device);
                    var compacted = cache.Select(keep);
                    cache.Dispose();
                    cache = compacted;
                }
                active = stillActive.Select(a => active[a]).ToList();
                if (cache is null) cache = new KvCache(active.Count, model.Dtype, device);   // the next pass runs from 0
                else start = LifeGptCodec.PromptLength - 1 + active.Min(b => settled[b]);   // the earliest corrected cell
            }
        }
        finally
        {
            cache?.Dispose();
        }
        return (tokens.narrow(1, LifeGptCodec.PromptLength, Board.Cells), pAlive, passes);
    }

    private static float[][] Rows(Tensor pAlive)
    {
        float[] flat = pAlive.cpu().data<float>().ToArray();
        return Enumerable.Range(0, flat.Length / Board.Cells).Select(b => flat.AsSpan(b * Board.Cells, Board.Cells).ToArray()).ToArray();
    }
}
