using System.Text;
using Conway.Boards;
using static TorchSharp.torch;

namespace Conway.Codec;

/// <summary>
/// The model's text format (spec: "Tokens and sequence"): one token per byte of
/// <c>@PredictNextState&lt;</c> + 1024 cells + <c>&gt; [</c> + 1024 next cells + <c>]$</c>, 2071 tokens.
/// </summary>
public static class LifeGptCodec
{
    public const string Header = "@PredictNextState<";
    public const string Separator = "> [";
    public const string Trailer = "]$";

    public const long Dead = '0', Alive = '1';

    /// <summary>Tokens before the first next-state cell (through <c>[</c>): 1045.</summary>
    public const int PromptLength = 18 + Board.Cells + 3;
    /// <summary>Prompt plus the 1024 next-state cells: 2069.</summary>
    public const int CellsEnd = PromptLength + Board.Cells;
    public const int SequenceLength = CellsEnd + 2;

    /// <summary>Bytes of the full training sequence for a transition.</summary>
    public static byte[] Sequence(Board current, Board next) =>
        Encoding.ASCII.GetBytes(Header + current.ToCells() + Separator + next.ToCells() + Trailer);

    /// <summary>The 1045-token prompts of a batch, [B, 1045] int64.</summary>
    public static Tensor Prompts(IReadOnlyList<Board> boards, Device device) =>
        Tokens(boards.Select(b => Header + b.ToCells() + Separator), PromptLength, device);

    /// <summary>Cells as tokens '0'/'1', [B, 1024] int64.</summary>
    public static Tensor CellTokens(IReadOnlyList<Board> boards, Device device) =>
        Tokens(boards.Select(b => b.ToCells()), Board.Cells, device);

    /// <summary>Reads boards back from cell tokens [B, 1024] ('1' alive, anything else dead).</summary>
    public static Board[] Boards(Tensor cellTokens)
    {
        long[] flat = cellTokens.cpu().to(ScalarType.Int64).data<long>().ToArray();
        int n = flat.Length / Board.Cells;
        var boards = new Board[n];
        for (int b = 0; b < n; b++)
        {
            var alive = new byte[Board.Cells];
            for (int i = 0; i < Board.Cells; i++) alive[i] = flat[b * Board.Cells + i] == Alive ? (byte)1 : (byte)0;
            boards[b] = Board.FromCells(alive);
        }
        return boards;
    }

    private static Tensor Tokens(IEnumerable<string> texts, int length, Device device)
    {
        var rows = texts.Select(Encoding.ASCII.GetBytes).ToArray();
        var flat = new long[rows.Length * length];
        for (int b = 0; b < rows.Length; b++)
            for (int i = 0; i < length; i++) flat[b * length + i] = rows[b][i];
        return tensor(flat, [rows.Length, length], ScalarType.Int64).to(device);
    }
}
