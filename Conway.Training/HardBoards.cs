using System.Security.Cryptography;
using System.Text;
using Conway.Boards;

namespace Conway.Training;

/// <summary>
/// Boards a model got wrong, fed back to training as a share of every batch (hard-example mining: <c>conway eval</c>
/// writes the boards it graded wrong to wrong-boards.txt). Each draw is one of them under a random one of the torus's
/// 8,192 symmetries (<see cref="TorusSymmetry"/>): the same problem in another place and orientation, so the model
/// learns the neighbourhoods it got wrong rather than one board at one place.
/// </summary>
public sealed class HardBoards
{
    public HardBoards(IReadOnlyList<Board> boards, double share)
    {
        if (boards.Count == 0) throw new ArgumentException("There are no hard boards.", nameof(boards));
        if (!(share is > 0 and <= 1)) throw new ArgumentOutOfRangeException(nameof(share), share, "The share of a batch is in (0, 1].");
        (Boards, Share) = (boards, share);
        Sha256 = Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(string.Join('\n', boards.Select(b => b.ToCells())))));
    }

    public IReadOnlyList<Board> Boards { get; }

    /// <summary>The expected share of every batch drawn from them.</summary>
    public double Share { get; }

    /// <summary>A digest of the boards in order: a run resumes only with the boards it started with.</summary>
    public string Sha256 { get; }

    public Board Draw(Random rng) => TorusSymmetry.Random(Boards[rng.Next(Boards.Count)], rng);
}
