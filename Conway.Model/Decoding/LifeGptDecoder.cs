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
public sealed class LifeGptDecoder(LifeGpt model)
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
        var (cells, pAlive, passes, plainCells) = options.Strategy == DecodeStrategy.Autoregressive
            ? Autoregressive(boards, sampler, uniforms, options.IncludeProbabilities, cellsOnly, cellsOnly && options.CudaGraphs, cancellation)
            : Speculative(boards, sampler, uniforms, options, cellsOnly, cancellation);

        var next = LifeGptCodec.Boards(cells);
        float[][]? probabilities = pAlive is null ? null : Rows(pAlive);
        return next.Select((b, i) => new Prediction(b, probabilities?[i]) { Passes = passes?[i], PlainCells = plainCells?[i] }).ToArray();
    }

    /// <summary>
    /// Plain decoding: a prefill over the prompts, then one model step per cell for the whole batch; greedy steps as
    /// replays of one captured graph where <paramref name="captured"/> and the model can (<see cref="LifeGpt.CaptureGreedySteps"/>).
    /// </summary>
    private (Tensor Cells, Tensor? PAlive, int[]? Passes, int[]? PlainCells) Autoregressive(IReadOnlyList<Board> boards, CellSampler sampler, Tensor? uniforms,
        bool withProbabilities, bool cellsOnly, bool captured, CancellationToken cancellation)
    {
        long batch = boards.Count;
        using var cache = new KvCache(batch, model.Dtype, model.Device);
        var cells = empty(batch, Board.Cells, ScalarType.Int64, model.Device);
        var pAlive = withProbabilities ? empty(batch, Board.Cells, ScalarType.Float32, model.Device) : null;

        var logits = model.Pass(LifeGptCodec.Prompts(boards, model.Device), 0, cache, LifeGptCodec.PromptLength - 1, cellsOnly, cancellation);
        using var steps = captured ? model.CaptureGreedySteps(cells, cache) : null;
        if (steps is not null)
        {
            cells.narrow(1, 0, 1).copy_(sampler.Choose(logits, null));
            steps.Run(1, Board.Cells, cancellation);
            return (cells, null, null, null);
        }
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
        return (cells, pAlive, null, null);
    }

    /// <summary>
    /// Speculative decoding with the exact rule as the first drafter (<see cref="SpeculativeRun"/>): verification
    /// passes while they stay cheaper than plain decoding of what is left, then plain steps for the unfinished boards;
    /// greedy passes of a few boards as replays of captured graphs where <see cref="DecodeOptions.CudaGraphs"/> and the
    /// model can (<see cref="CapturedVerification"/>).
    /// </summary>
    private (Tensor Cells, Tensor? PAlive, int[] Passes, int[] PlainCells) Speculative(IReadOnlyList<Board> boards, CellSampler sampler,
        Tensor? uniforms, DecodeOptions options, bool cellsOnly, CancellationToken cancellation)
    {
        bool reuseCache = options.ReuseCacheAcrossPasses ?? model.Device.type != DeviceType.CUDA;
        using var run = new SpeculativeRun(model, boards, sampler, uniforms, options.IncludeProbabilities, cellsOnly, reuseCache, options.CudaGraphs,
            options.IsGreedy ? options.FlipMargin : 0f);
        while (!run.Done)
        {
            bool verify = run.PassCount < options.MaxPasses.GetValueOrDefault(int.MaxValue)
                && (run.PassCount < options.PassesBeforeFallbackCheck || run.VerifyingIsCheaper(cancellation));
            if (run.Done) break;                                          // the check's own plain steps may finish it
            if (verify) run.Verify(cancellation);
            else run.ContinuePlainly(Board.Cells, cancellation);
        }
        return run.Result();
    }

    private static float[][] Rows(Tensor pAlive)
    {
        float[] flat = pAlive.cpu().data<float>().ToArray();
        return Enumerable.Range(0, flat.Length / Board.Cells).Select(b => flat.AsSpan(b * Board.Cells, Board.Cells).ToArray()).ToArray();
    }
}
