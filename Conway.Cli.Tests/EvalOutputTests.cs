using Conway.Boards;
using Conway.Evaluation;

namespace Conway.Cli.Tests;

public sealed class EvalOutputTests
{
    [SharedDataFact]
    public void Eval_writes_the_input_of_every_board_it_graded_wrong_to_wrong_boards_txt_and_grades_them_again_from_it()
    {
        using var folder = new TempFolder();
        // the under-trained reference checkpoint gets most boards wrong; 3 boards on the CPU take about 10 s
        var result = ConwayRun.With("eval", "--model", SharedData.Path("data", "conformance", "lifegpt-xt1.27.21-undertrained.pt"),
            "--device", "cpu", "--boards", "3", "--seed", "1", "--skip-patterns", "--skip-paper", "--skip-rollouts", "--out", folder.Path);
        Assert.True(result.ExitCode == 0, result.Stderr);

        var inputs = EvalCases.Random(3, 1).Select(c => c.Input).ToArray();
        var predicted = File.ReadAllLines(folder.File("predictions.txt")).Select(line => Board.FromCells(line)).ToArray();
        var expected = inputs.Where((input, i) => !predicted[i].Equals(LifeRule.Step(input))).ToArray();
        var written = CellLines.Parse(File.ReadLines(folder.File("wrong-boards.txt")));

        Assert.NotEmpty(expected);                   // else the file's contents would prove nothing
        Assert.Equal(expected, written);

        // graded again from the file (the CPU's numerics are deterministic), every one of them is wrong again
        using var again = new TempFolder();
        var regraded = ConwayRun.With("eval", "--model", SharedData.Path("data", "conformance", "lifegpt-xt1.27.21-undertrained.pt"),
            "--device", "cpu", "--boards", "0", "--boards-file", folder.File("wrong-boards.txt"), "--skip-patterns", "--skip-paper", "--skip-rollouts",
            "--out", again.Path);
        Assert.True(regraded.ExitCode == 0, regraded.Stderr);
        Assert.Contains($"| boards from wrong-boards.txt | {expected.Length} | 0 | 0.00% |", regraded.Stdout);
        Assert.Equal(written, CellLines.Parse(File.ReadLines(again.File("wrong-boards.txt"))));
    }
}
