using System.Text;
using Conway.Boards;
using Conway.Codec;
using static TorchSharp.torch;

namespace Conway.Model.Tests.Codec;

public class LifeGptCodecTests
{
    private static readonly Board[] Boards = [.. new[] { 0.0, 0.1, 0.5, 0.9, 1.0 }.Select((d, i) => Board.Random(d, new Random(i))), Patterns.Named["glider"]];

    [Fact]
    public void Prompts_are_the_ascii_bytes_of_header_cells_and_separator()
    {
        using var prompts = LifeGptCodec.Prompts(Boards, CPU);

        Assert.Equal([Boards.Length, LifeGptCodec.PromptLength], prompts.shape);
        Assert.Equal(ScalarType.Int64, prompts.dtype);
        for (int b = 0; b < Boards.Length; b++)
        {
            var expected = Encoding.ASCII.GetBytes("@PredictNextState<" + Boards[b].ToCells() + "> [").Select(x => (long)x);
            Assert.Equal(expected, prompts[b].data<long>().ToArray());
        }
    }

    [Fact]
    public void Drafted_sequences_are_the_training_sequences_without_their_trailer()
    {
        var next = Boards.Select(b => LifeRule.Step(b)).ToArray();
        using var sequences = LifeGptCodec.Drafted(Boards, next, CPU);

        for (int b = 0; b < Boards.Length; b++)
        {
            var training = LifeGptCodec.Sequence(Boards[b], next[b]).Select(x => (long)x).ToArray();
            Assert.Equal(training[..LifeGptCodec.CellsEnd], sequences[b].data<long>().ToArray());
            Assert.Equal("]$"u8.ToArray().Select(x => (long)x), training[LifeGptCodec.CellsEnd..]);
        }
    }

    [Fact]
    public void Boards_reads_back_the_boards_that_cell_tokens_encode()
    {
        using var tokens = LifeGptCodec.CellTokens(Boards, CPU);

        Assert.Equal(Boards, LifeGptCodec.Boards(tokens));
    }

    [Fact]
    public void Boards_reads_any_token_but_one_as_a_dead_cell()
    {
        using var tokens = LifeGptCodec.CellTokens([Board.Empty.With(0, 0, true).With(31, 31, true)], CPU);
        tokens[0, Board.Cells - 1] = tensor((long)'x');          // was '1' (row 31, column 31); not a cell: dead

        Assert.Equal(Board.Empty.With(0, 0, true), LifeGptCodec.Boards(tokens).Single());
    }
}
