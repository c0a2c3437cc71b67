using Conway.Boards;
using Conway.Decoding;

namespace Conway.Evaluation.Tests;

/// <summary>
/// A predictor that answers the exact rule, except for the chosen input boards, whose prediction gets that many
/// cells of row 0 flipped. Records the size of every Predict call.
/// </summary>
internal sealed class RuleBreakingPredictor(IReadOnlyDictionary<Board, int> wrongCellsByInput) : IBoardPredictor
{
    public RuleBreakingPredictor() : this(new Dictionary<Board, int>()) { }

    public List<int> CallSizes { get; } = [];

    public ModelInfo Info { get; } = new("rule-breaking double", "0123456789abcdef", 0, "none", "cpu", TimeSpan.Zero, "none");

    public IReadOnlyList<Prediction> Predict(IReadOnlyList<Board> boards, DecodeOptions options, CancellationToken cancellation)
    {
        CallSizes.Add(boards.Count);
        return boards.Select(b => new Prediction(Flip(LifeRule.Step(b), wrongCellsByInput.GetValueOrDefault(b)), null)).ToArray();
    }

    private static Board Flip(Board b, int cells) =>
        Enumerable.Range(0, cells).Aggregate(b, (board, c) => board.With(0, c, !board[0, c]));

    public void Dispose() { }
}
