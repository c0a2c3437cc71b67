using Conway.Boards;

namespace Conway.Decoding;

/// <summary>
/// Predicts next states for a batch of boards. Implementations are not thread-safe: the serving layer calls one
/// from a single dedicated thread (TorchSharp dispose scopes and inference mode are thread-local).
/// </summary>
public interface IBoardPredictor : IDisposable
{
    ModelInfo Info { get; }

    /// <summary>
    /// Predicts the batch, stopping at the implementation's next cancellation point once <paramref name="cancellation"/>
    /// fires (throwing <see cref="OperationCanceledException"/>); the model's are between decode steps and passes.
    /// </summary>
    IReadOnlyList<Prediction> Predict(IReadOnlyList<Board> boards, DecodeOptions options, CancellationToken cancellation);

    IReadOnlyList<Prediction> Predict(IReadOnlyList<Board> boards, DecodeOptions options) => Predict(boards, options, CancellationToken.None);
}
