using System.Numerics;

namespace Conway.Boards;

/// <summary>
/// Conway's Game of Life (B3/S23) on the 32x32 torus, bit-parallel: each row is one 32-bit word,
/// so a generation is a few dozen word operations per row instead of a loop over cells.
/// </summary>
public static class LifeRule
{
    public static Board Step(Board b) => Step(b, 1);

    public static Board Step(Board b, int generations)
    {
        ArgumentNullException.ThrowIfNull(b);
        ArgumentOutOfRangeException.ThrowIfNegative(generations);
        uint[] current = b.ToWords(), next = new uint[Board.Size];
        for (int g = 0; g < generations; g++)
        {
            StepWords(current, next);
            (current, next) = (next, current);
        }
        return Board.FromWords(current);
    }

    private static void StepWords(ReadOnlySpan<uint> rows, Span<uint> next)
    {
        for (int r = 0; r < Board.Size; r++)
        {
            uint above = rows[Board.Wrap(r - 1)], row = rows[r], below = rows[Board.Wrap(r + 1)];

            // Each neighbouring row contributes a 2-bit count per column (hi, lo): the row above and
            // below count three cells (left, centre, right), this row only two (the cell is not its own neighbour).
            var (aboveHi, aboveLo) = FullAdd(West(above), above, East(above));
            var (rowHi, rowLo) = HalfAdd(West(row), East(row));
            var (belowHi, belowLo) = FullAdd(West(below), below, East(below));

            // Adding the three low bits gives bit 0 of the total ("ones") and a carry of weight 2.
            var (carry, ones) = FullAdd(aboveLo, rowLo, belowLo);

            // The total is 2 or 3 exactly when one of the four weight-2 bits (aboveHi, rowHi, belowHi, carry)
            // is set: at most one of the first three (their carry, "many", is clear) and it differs from carry.
            var (many, twos) = FullAdd(aboveHi, rowHi, belowHi);
            uint twoOrThree = (twos ^ carry) & ~many;

            // Birth on exactly 3 (ones set), survival on 2 or 3.
            next[r] = twoOrThree & (ones | row);
        }
    }

    /// <summary>Each column sees the cell to its west (column c - 1, wrapping).</summary>
    private static uint West(uint row) => BitOperations.RotateLeft(row, 1);

    /// <summary>Each column sees the cell to its east (column c + 1, wrapping).</summary>
    private static uint East(uint row) => BitOperations.RotateRight(row, 1);

    /// <summary>Adds three 1-bit numbers in every column at once: (carry, sum).</summary>
    private static (uint Carry, uint Sum) FullAdd(uint a, uint b, uint c)
    {
        uint ab = a ^ b;
        return ((a & b) | (ab & c), ab ^ c);
    }

    /// <summary>Adds two 1-bit numbers in every column at once: (carry, sum).</summary>
    private static (uint Carry, uint Sum) HalfAdd(uint a, uint b) => (a & b, a ^ b);
}
