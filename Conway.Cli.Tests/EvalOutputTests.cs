using Conway.Boards;
using Conway.Evaluation;
using Conway.Training;

namespace Conway.Cli.Tests;

public sealed class EvalOutputTests
{
    [SharedDataFact]
    public void Eval_writes_the_input_of_every_board_it_graded_wrong_to_wrong_boards_txt_which_train_reads_back()
    {
        using var folder = new TempFolder();
        // the under-trained reference checkpoint gets most boards wrong; 3 boards on the CPU take about 10 s
        var result = ConwayRun.With("eval", "--model", SharedData.Path("data", "conformance", "lifegpt-xt1.27.21-undertrained.pt"),
            "--device", "cpu", "--boards", "3", "--seed", "1", "--skip-patterns", "--skip-paper", "--skip-rollouts", "--out", folder.Path);
        Assert.True(result.ExitCode == 0, result.Stderr);

        var inputs = EvalCases.Random(3, 1).Select(c => c.Input).ToArray();
        var predicted = File.ReadAllLines(folder.File("predictions.txt")).Select(line => Board.FromCells(line)).ToArray();
        var expected = inputs.Where((input, i) => !predicted[i].Equals(LifeRule.Step(input))).ToArray();
        var written = HardBoards.Parse(File.ReadLines(folder.File("wrong-boards.txt")));

        Assert.NotEmpty(expected);                   // else the file's contents would prove nothing
        Assert.Equal(expected, written);
    }
}
