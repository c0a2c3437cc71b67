using Conway.Boards;

namespace Conway.Training;

/// <summary>
/// Fresh training boards from a seeded generator, a mix that covers what people draw, not only density-0.5 noise:
/// the reference mix (half at density 0.5, half uniform in [0.05, 0.95]) widened to 0.0-1.0, plus empty and
/// nearly full boards, sparse scenes of still lifes, oscillators, spaceships and methuselahs at random places and
/// orientations, and in every family half the boards first advanced 0-19 Life steps.
/// With <see cref="HardBoards"/>, each board is one of them (under a random symmetry) with their share's probability.
/// Board i of step s depends only on (seed, s, i) and the hard boards, so a resumed run sees the same data as an
/// uninterrupted one; without hard boards the data are those of runs made before they existed.
/// </summary>
public static class TrainingBoards
{
    public static Board[] Batch(int seed, int step, int size, HardBoards? hard = null)
    {
        var boards = new Board[size];
        for (int i = 0; i < size; i++)
        {
            var rng = new Random(BoardSeed(seed, step, i));
            if (hard is not null && rng.NextDouble() < hard.Share)
            {
                boards[i] = hard.Draw(rng);
                continue;
            }
            var board = Draw(rng);
            if (rng.NextDouble() < 0.5) board = LifeRule.Step(board, rng.Next(0, 20));
            boards[i] = board;
        }
        return boards;
    }

    /// <summary>
    /// A seed mixed from (seed, step, i) with SplitMix64: the same in every process. (HashCode.Combine is randomised
    /// per process, so a resumed run, or a rerun with the same --seed, would see other boards.)
    /// </summary>
    private static int BoardSeed(int seed, int step, int i)
    {
        ulong h = Mix((ulong)(uint)seed);
        h = Mix(h ^ (uint)step);
        h = Mix(h ^ (uint)i);
        return (int)(h ^ (h >> 32));
    }

    private static ulong Mix(ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }

    private static Board Draw(Random rng)
    {
        double family = rng.NextDouble();
        return family switch
        {
            < 0.30 => Board.Random(0.5, rng),
            < 0.60 => Board.Random(rng.NextDouble(), rng),
            < 0.70 => Board.Random(rng.NextDouble() < 0.5 ? rng.NextDouble() * 0.06 : 1 - rng.NextDouble() * 0.06, rng),
            < 0.72 => rng.NextDouble() < 0.5 ? Board.Empty : Full,
            _ => Scene(rng),
        };
    }

    private static readonly Board Full = Board.FromWords(Enumerable.Repeat(uint.MaxValue, Board.Size).ToArray());

    /// <summary>1-6 named patterns, each moved, maybe mirrored, OR-ed onto an empty or faintly noisy board.</summary>
    private static Board Scene(Random rng)
    {
        var words = (rng.NextDouble() < 0.7 ? Board.Empty : Board.Random(rng.NextDouble() * 0.05, rng)).ToWords();
        int count = rng.Next(1, 7);
        for (int n = 0; n < count; n++)
        {
            var pattern = Patterns.Named[Patterns.Names[rng.Next(Patterns.Names.Count)]];
            if (rng.NextDouble() < 0.5) pattern = TorusSymmetry.MirrorRows(pattern);
            if (rng.NextDouble() < 0.5) pattern = TorusSymmetry.MirrorColumns(pattern);
            var placed = pattern.Translate(rng.Next(Board.Size), rng.Next(Board.Size)).ToWords();
            for (int r = 0; r < Board.Size; r++) words[r] |= placed[r];
        }
        return Board.FromWords(words);
    }
}
