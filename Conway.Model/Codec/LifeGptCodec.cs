using System.Text;
using Conway.Boards;
using TorchSharp;
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

    /// <summary>The cell tokens as TorchSharp scalars, made once and held (see Conway.Model.Scalars).</summary>
    public static readonly Scalar DeadToken = Dead.ToScalar(), AliveToken = Alive.ToScalar();

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
        Tokens(boards.Count, PromptLength, (i, row) => WritePrompt(boards[i], row), device);

    /// <summary>Cells as tokens '0'/'1', [B, 1024] int64.</summary>
    public static Tensor CellTokens(IReadOnlyList<Board> boards, Device device) =>
        Tokens(boards.Count, Board.Cells, (i, row) => WriteCells(boards[i], row), device);

    /// <summary>The prompts followed by next-state cells (a speculative pass's drafts), [B, 2069] int64: one copy to the device.</summary>
    public static Tensor Drafted(IReadOnlyList<Board> boards, IReadOnlyList<Board> drafts, Device device) =>
        Tokens(boards.Count, CellsEnd, (i, row) => WritePromptAndCells(boards[i], drafts[i], row), device);

    /// <summary>Full training sequences [B, 2071] int64 for boards and their next states (the bytes of <see cref="Sequence"/>).</summary>
    public static Tensor Sequences(IReadOnlyList<Board> boards, IReadOnlyList<Board> next, Device device) =>
        Tokens(boards.Count, SequenceLength, (i, row) =>
        {
            WritePromptAndCells(boards[i], next[i], row);
            TrailerBytes.CopyTo(row[CellsEnd..]);
        }, device);

    /// <summary>Reads boards back from cell tokens [B, 1024] ('1' alive, anything else dead).</summary>
    public static Board[] Boards(Tensor cellTokens)
    {
        byte[] alive = cellTokens.eq(AliveToken).to(ScalarType.Byte).cpu().data<byte>().ToArray();   // a byte a cell crosses the bus
        return [.. Enumerable.Range(0, alive.Length / Board.Cells).Select(b => Board.FromCells(alive.AsSpan(b * Board.Cells, Board.Cells)))];
    }

    private static readonly byte[] HeaderBytes = Encoding.ASCII.GetBytes(Header), SeparatorBytes = Encoding.ASCII.GetBytes(Separator),
        TrailerBytes = Encoding.ASCII.GetBytes(Trailer);

    private static void WritePrompt(Board board, Span<byte> row)
    {
        HeaderBytes.CopyTo(row);
        WriteCells(board, row.Slice(Header.Length, Board.Cells));
        SeparatorBytes.CopyTo(row[(Header.Length + Board.Cells)..]);
    }

    private static void WritePromptAndCells(Board board, Board next, Span<byte> row)
    {
        WritePrompt(board, row);
        WriteCells(next, row.Slice(PromptLength, Board.Cells));
    }

    private static void WriteCells(Board board, Span<byte> row)
    {
        var words = board.ToWords();
        for (int r = 0; r < Board.Size; r++)
            for (int c = 0; c < Board.Size; c++) row[r * Board.Size + c] = (byte)(((words[r] >> c) & 1) != 0 ? Alive : Dead);
    }

    private delegate void RowWriter(int index, Span<byte> row);

    /// <summary>
    /// Token rows written straight from the boards' bits as bytes, copied to the device as uint8 and widened there: for
    /// a batch of 256 the strings and int64 arrays of a text round trip cost more host time than the rest of a pass's
    /// preparation (~8% of a speculative batch on an H100).
    /// </summary>
    private static Tensor Tokens(int count, int length, RowWriter write, Device device)
    {
        var flat = new byte[count * length];
        for (int b = 0; b < count; b++) write(b, flat.AsSpan(b * length, length));
        using var bytes = tensor(flat, [count, length], ScalarType.Byte);
        using var onDevice = bytes.to(device);
        return onDevice.to(ScalarType.Int64);
    }
}
