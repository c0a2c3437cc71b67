using System.Collections.Frozen;
using System.Numerics;

namespace Conway.Boards;

/// <summary>
/// A small catalogue of well-known patterns (RLE as on LifeWiki), each centred on the torus so that it
/// starts well away from the edges. The Gosper glider gun is left out on purpose: it is 36 cells wide,
/// does not fit the 32x32 torus, and a cut-down fragment would not behave like a gun.
/// </summary>
public static class Patterns
{
    private static readonly (string Name, string Rle)[] Catalogue =
    [
        // Still lifes
        ("block", "x = 2, y = 2\n2o$2o!"),
        ("beehive", "x = 4, y = 3\nb2o$o2bo$b2o!"),
        ("loaf", "x = 4, y = 4\nb2o$o2bo$bobo$2bo!"),
        ("boat", "x = 3, y = 3\n2o$obo$bo!"),
        ("tub", "x = 3, y = 3\nbo$obo$bo!"),
        // Oscillators: blinker, toad and beacon have period 2, the pulsar 3, the pentadecathlon 15
        ("blinker", "x = 3, y = 1\n3o!"),
        ("toad", "x = 4, y = 2\nb3o$3o!"),
        ("beacon", "x = 4, y = 4\n2o$2o$2b2o$2b2o!"),
        ("pulsar", "x = 13, y = 13\n2b3o3b3o2$o4bobo4bo$o4bobo4bo$o4bobo4bo$2b3o3b3o2$2b3o3b3o$o4bobo4bo$o4bobo4bo$o4bobo4bo2$2b3o3b3o!"),
        ("pentadecathlon", "x = 10, y = 3\n2bo4bo$2ob4ob2o$2bo4bo!"),
        // Spaceships: the glider moves one cell down and right every 4 generations, the others 2 cells left
        ("glider", "x = 3, y = 3\nbo$2bo$3o!"),
        ("lwss", "x = 5, y = 4\nbo2bo$o$o3bo$4o!"),
        ("mwss", "x = 6, y = 5\n3bo$bo3bo$o$o4bo$5o!"),
        ("hwss", "x = 7, y = 5\n3b2o$bo4bo$o$o5bo$6o!"),
        // Methuselahs: small seeds with long evolutions (on the infinite plane the diehard vanishes after 130 generations)
        ("r-pentomino", "x = 3, y = 3\nb2o$2o$bo!"),
        ("diehard", "x = 8, y = 3\n6bo$2o$bo3b3o!"),
        ("acorn", "x = 7, y = 3\nbo$3bo$2o2b3o!"),
        ("b-heptomino", "x = 4, y = 3\nob2o$3o$bo!"),
        ("pi-heptomino", "x = 3, y = 3\n3o$obo$obo!"),
    ];

    /// <summary>The pattern names in catalogue order.</summary>
    public static IReadOnlyList<string> Names { get; } = Catalogue.Select(p => p.Name).ToArray();

    /// <summary>The patterns by name (case-insensitive), each centred on the torus.</summary>
    public static IReadOnlyDictionary<string, Board> Named { get; } =
        Catalogue.ToFrozenDictionary(p => p.Name, p => Centre(PatternFormats.ParseRle(p.Rle)), StringComparer.OrdinalIgnoreCase);

    /// <summary>Moves a pattern whose top-left corner is at (0, 0) to the middle of the torus.</summary>
    private static Board Centre(Board pattern)
    {
        uint[] rows = pattern.ToWords();
        int height = Array.FindLastIndex(rows, w => w != 0) + 1;
        int width = Board.Size - BitOperations.LeadingZeroCount(rows.Aggregate(0u, (a, w) => a | w));
        return pattern.Translate((Board.Size - height) / 2, (Board.Size - width) / 2);
    }
}
