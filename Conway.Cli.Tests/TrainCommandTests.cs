using System.Text.Json;

namespace Conway.Cli.Tests;

public sealed class TrainCommandTests
{
    [Fact]
    public void Exporting_a_run_that_had_already_finished_writes_its_card_again_with_the_same_accuracy_and_no_loss()
    {
        using var folder = new TempFolder();
        string[] args = ["train", "--steps", "1", "--batch", "1", "--eval-boards", "1", "--device", "cpu", "--precision", "fp32",
            "--out", folder.File("run"), "--export", folder.File("model.safetensors")];
        string card = folder.File("model.train.json");

        var trained = ConwayRun.With(args);
        Assert.True(trained.ExitCode == 0, trained.Stderr);
        using var first = JsonDocument.Parse(File.ReadAllText(card));
        var again = ConwayRun.With(args);          // the run in --out is at its last step already
        Assert.True(again.ExitCode == 0, again.Stderr);
        using var second = JsonDocument.Parse(File.ReadAllText(card));

        Assert.Equal(JsonValueKind.Number, first.RootElement.GetProperty("finalLoss").ValueKind);
        Assert.Equal(JsonValueKind.Null, second.RootElement.GetProperty("finalLoss").ValueKind);
        Assert.Contains("final loss none (no step ran)", again.Stdout);
        Assert.Equal(first.RootElement.GetProperty("sha256").GetString(), second.RootElement.GetProperty("sha256").GetString());
        Assert.Equal(first.RootElement.GetProperty("heldOutTeacherForced").GetRawText(), second.RootElement.GetProperty("heldOutTeacherForced").GetRawText());
        Assert.Equal(1, second.RootElement.GetProperty("steps").GetInt32());
    }

    [Fact]
    public void A_run_stopped_by_its_time_limit_before_its_first_log_line_still_reports_the_loss_of_its_last_step()
    {
        using var folder = new TempFolder();
        var stopped = ConwayRun.With("train", "--steps", "5", "--batch", "1", "--eval-boards", "1", "--log-every", "5", "--device", "cpu",
            "--precision", "fp32", "--max-minutes", "0.0001", "--out", folder.File("run"), "--export", folder.File("model.safetensors"));

        Assert.True(stopped.ExitCode == 0, stopped.Stderr);
        using var card = JsonDocument.Parse(File.ReadAllText(folder.File("model.train.json")));
        Assert.Equal(1, card.RootElement.GetProperty("steps").GetInt32());
        Assert.Equal(JsonValueKind.Number, card.RootElement.GetProperty("finalLoss").ValueKind);
        Assert.Equal(2, File.ReadAllLines(Path.Combine(folder.File("run"), "train.csv")).Length);   // the header and step 1's row
    }
}
