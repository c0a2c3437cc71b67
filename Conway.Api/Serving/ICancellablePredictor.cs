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
/// The real model: <see cref="LifeGptPredictor"/> checks the token between decode steps (plain decoding) and between
/// verification passes (speculative decoding), so a batch whose clients are all gone stops within one step or pass.
/// </summary>
public sealed class LifeGptServingPredictor(LifeGptPredictor model) : ICancellablePredictor
{
    public ModelInfo Info => model.Info;

    public IReadOnlyList<Prediction> Predict(IReadOnlyList<Board> boards, DecodeOptions options, CancellationToken cancellation) =>
        model.Predict(boards, options, cancellation);

    public void Dispose() => model.Dispose();
}
