using Conway.Codec;
using Conway.Kernels;
using Conway.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Conway.Decoding;

/// <summary>
/// A greedy speculative verification pass of a few boards on CUDA, captured once per batch size as a CUDA graph by
/// libtorch (<see cref="CapturedGraph"/>) and replayed by every such pass after, for as long as the model keeps its
/// decoding layouts (<see cref="LifeGpt.Captured{T}"/>). One board's pass is ~150 libtorch calls and kernel launches
/// for ~0.2 ms of arithmetic, so the host bounds it; a replay is one call (docs/PERFORMANCE.md, "Fused kernels"). The
/// graph runs the same calls as an uncaptured pass from position 0 (<see cref="Score"/>), so on the
/// same boards it gives the same cells; it scores all 1,024 cells of each board, as the first pass does, since a pass
/// from a later cell would change its shapes.
/// </summary>
internal sealed class CapturedVerification : IDisposable
{
    private readonly Tensor _sequences, _settled;   // the graph's inputs, which each pass copies its own into
    private readonly CapturedGraph _graph;          // its outputs: the choices [B, 1024], the verdicts [B, 2] and the margins [B, 1024]

    private CapturedVerification(Tensor sequences, Tensor settled, CapturedGraph graph) =>
        (_sequences, _settled, _graph) = (sequences, settled, graph);

    /// <summary>The captured pass for <paramref name="batch"/> boards (captured now if it is the first); null where none can be.</summary>
    public static CapturedVerification? For(LifeGpt model, int batch) =>
        model.Kernels.Kernels?.CapturesPasses(batch) == true ? model.Captured((typeof(CapturedVerification), batch), () => Capture(model, batch)) : null;

    /// <summary>
    /// What the graph runs: a greedy pass from position 0 over <paramref name="sequences"/> [B, 2069] (prompts and drafts)
    /// with each board's settled cell count [B, 1]: the model's choices for all its cells [B, 1024], the verdicts [B, 2]
    /// (<see cref="SpeculativeRun.Verdicts"/>) and the choices' margins [B, 1024] (<see cref="CellSampler.Margins"/>),
    /// in the caller's dispose scope.
    /// </summary>
    internal static (Tensor Choices, Tensor Verdicts, Tensor Margins) Score(LifeGpt model, Tensor sequences, Tensor settled)
    {
        var logits = model.Pass(sequences.narrow(1, 0, LifeGptCodec.CellsEnd - 1), 0, null, LifeGptCodec.PromptLength - 1, cellsOnly: true);
        var choices = CellSampler.Greedy(logits);
        var drafted = sequences.narrow(1, LifeGptCodec.PromptLength, choices.shape[1]);
        return (choices, SpeculativeRun.Verdicts(choices.ne(drafted), 0, settled), CellSampler.Margins(logits));
    }

    private static CapturedVerification? Capture(LifeGpt model, int batch)
    {
        // tokens 0 and settled counts 0 are valid inputs to capture with; each pass copies its own in
        var sequences = zeros(batch, LifeGptCodec.CellsEnd, ScalarType.Int64, model.Device).DetachFromDisposeScope();
        var settled = zeros(batch, 1, ScalarType.Int64, model.Device).DetachFromDisposeScope();
        var graph = model.CaptureGraph(() =>
        {
            using var scope = NewDisposeScope();
            var (choices, verdicts, margins) = Score(model, sequences, settled);
            return [choices.MoveToOuterDisposeScope(), verdicts.MoveToOuterDisposeScope(), margins.MoveToOuterDisposeScope()];
        });
        if (graph is not null) return new CapturedVerification(sequences, settled, graph);
        sequences.Dispose();
        settled.Dispose();
        return null;
    }

    /// <summary>
    /// One pass over <paramref name="sequences"/> [B, 2069] (prompts and drafts) with each board's settled cell count [B, 1]: the model's
    /// choices for all its cells [B, 1024], the verdicts [B, 2] and the margins [B, 1024] (as <see cref="Score"/>), all the
    /// graph's own, to be read before the model replays another graph.
    /// </summary>
    public (Tensor Choices, Tensor Verdicts, Tensor Margins) Run(Tensor sequences, Tensor settled)
    {
        _sequences.copy_(sequences);
        _settled.copy_(settled);
        _graph.Replay();
        return (_graph.Outputs[0], _graph.Outputs[1], _graph.Outputs[2]);
    }

    public void Dispose()
    {
        _graph.Dispose();
        _sequences.Dispose();
        _settled.Dispose();
    }
}
