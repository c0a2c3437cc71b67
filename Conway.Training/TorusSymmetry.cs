using Conway.Boards;

namespace Conway.Training;

/// <summary>
/// The symmetries of the 32 x 32 torus that Life's rule commutes with: the 8 rotations and reflections of the square
/// (an orientation: bit 0 mirrors the rows, bit 1 mirrors the columns, bit 2 transposes, in that order) and the 1,024
/// translations. A board moved by any of them steps to its next state moved the same way.
/// </summary>
public static class TorusSymmetry
{
    public const int Orientations = 8;

    /// <summary>The board in orientation <paramref name="orientation"/> (0-7), then translated by (rows, cols).</summary>
    public static Board Apply(Board board, int orientation, int rows = 0, int cols = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(orientation);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(orientation, Orientations);
        if ((orientation & 1) != 0) board = MirrorRows(board);
        if ((orientation & 2) != 0) board = MirrorColumns(board);
        if ((orientation & 4) != 0) board = Transpose(board);
        return board.Translate(rows, cols);
    }

    /// <summary>A random one of the 8,192 symmetries applied to the board: orientation, then row and column shift.</summary>
    public static Board Random(Board board, Random rng) =>
        Apply(board, rng.Next(Orientations), rng.Next(Board.Size), rng.Next(Board.Size));

    public static Board MirrorRows(Board b) => Board.FromWords(b.ToWords().Reverse().ToArray());

    public static Board MirrorColumns(Board b) => Board.FromWords(b.ToWords().Select(ReverseBits).ToArray());

    public static Board Transpose(Board b)
    {
        var words = b.ToWords();
        var transposed = new uint[Board.Size];
        for (int r = 0; r < Board.Size; r++)
            for (int c = 0; c < Board.Size; c++)
                transposed[c] |= ((words[r] >> c) & 1) << r;
        return Board.FromWords(transposed);
    }

    private static uint ReverseBits(uint w)
    {
        uint r = 0;
        for (int i = 0; i < Board.Size; i++) r |= ((w >> i) & 1) << (Board.Size - 1 - i);
        return r;
    }
}
