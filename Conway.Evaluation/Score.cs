using System.Globalization;
using Conway.Boards;

namespace Conway.Evaluation;

/// <summary>A prediction graded cell by cell: the number of cells that differ from the exact next state.</summary>
public sealed record GradedBoard(EvalCase Case, Board Predicted)
{
    public int WrongCells { get; } = Predicted.CountDifferences(Case.Truth);
    public bool Exact => WrongCells == 0;
}

/// <summary>Boards, exact boards and wrong cells of a group of graded boards; the rates are null for an empty group.</summary>
public sealed record Score(int Boards, int ExactBoards, long WrongCells)
{
    public double? ExactRate => Boards == 0 ? null : (double)ExactBoards / Boards;
    public double? CellAccuracy => Boards == 0 ? null : 1.0 - (double)WrongCells / ((long)Boards * Board.Cells);

    /// <summary>A rate in percent with that many decimals, rounded down: "100" means all of them, never 99.9996%.</summary>
    public static string Percent(double rate, int decimals)
    {
        double scale = Math.Pow(10, decimals);
        return (Math.Floor(rate * 100 * scale + 1e-9) / scale).ToString("F" + decimals, CultureInfo.InvariantCulture);
    }

    public static Score Of(IEnumerable<GradedBoard> boards)
    {
        int count = 0, exact = 0;
        long wrong = 0;
        foreach (var b in boards)
        {
            count++;
            if (b.Exact) exact++;
            wrong += b.WrongCells;
        }
        return new Score(count, exact, wrong);
    }
}
