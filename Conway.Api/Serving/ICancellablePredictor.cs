using Conway.Boards;
using Conway.Decoding;

namespace Conway.Api.Serving;

/// <summary>
/// What the serving layer runs: an <see cref="IBoardPredictor"/> that also takes a token and stops at its next
/// cancellation point once the token fires (throwing <see cref="OperationCanceledException"/>). Where those points
/// are is up to the implementation: see <see cref="LifeGptServingPredictor"/> for the real model.
/// </summary>
public interface ICancellablePredictor : IBoardPredictor
{
    IReadOnlyList<Prediction> Predict(IReadOnlyList<Board> boards, DecodeOptions options, CancellationToken cancellation);

    IReadOnlyList<Prediction> IBoardPredictor.Predict(IReadOnlyList<Board> boards, DecodeOptions options) =>
        Predict(boards, options, CancellationToken.None);
}

/// <summary>
/// The real model, cancellable between sub-batches: <see cref="LifeGptPredictor"/> decodes at most
/// <see cref="LifeGptPredictor.MaxBatch"/> boards per pass (16 on the CPU, 256 on CUDA) and the token is checked
/// before each pass. A pass that has started runs to its end: the decoder (Conway.Model/Decoding) takes no token,
/// so one board, or one sub-batch, cannot be stopped between its decode steps.
/// </summary>
public sealed class LifeGptServingPredictor(LifeGptPredictor model) : ICancellablePredictor
{
    public ModelInfo Info => model.Info;

    public IReadOnlyList<Prediction> Predict(IReadOnlyList<Board> boards, DecodeOptions options, CancellationToken cancellation)
    {
        var predictions = new List<Prediction>(boards.Count);
        foreach (var pass in boards.Chunk(model.MaxBatch))
        {
            cancellation.ThrowIfCancellationRequested();
            predictions.AddRange(model.Predict(pass, options));
        }
        return predictions;
    }

    public void Dispose() => model.Dispose();
}
