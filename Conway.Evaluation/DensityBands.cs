namespace Conway.Evaluation;

/// <summary>One density band's score: random boards whose drawn density lies in [Low, High).</summary>
public sealed record DensityBand(double Low, double High, Score Score)
{
    public string Label => FormattableString.Invariant($"{Low:0.0}-{High:0.0}");
}

/// <summary>The ten density bands of width 0.1 (the last one includes density 1).</summary>
public static class DensityBands
{
    public const int Count = 10;

    /// <summary>The lower edge of a band (and the upper edge of the one before): band / 10.</summary>
    public static double Edge(int band) => band / (double)Count;

    /// <summary>The band of a density: 0 for [0, 0.1), ..., 9 for [0.9, 1].</summary>
    public static int Of(double density)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(density, 0.0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(density, 1.0);
        // the epsilon keeps 0.3, 0.7, ... (inexact in binary) in the band they name
        return Math.Min(Count - 1, (int)Math.Floor(density * Count + 1e-9));
    }

    /// <summary>All ten bands, empty ones with 0 boards.</summary>
    public static DensityBand[] Summarize(IEnumerable<GradedBoard> boards)
    {
        var byBand = boards.ToLookup(b => Of(b.Case.Density));
        return Enumerable.Range(0, Count)
            .Select(band => new DensityBand(Edge(band), Edge(band + 1), Score.Of(byBand[band])))
            .ToArray();
    }
}
