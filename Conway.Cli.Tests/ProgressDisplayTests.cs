using Conway.Cli.Progress;

namespace Conway.Cli.Tests;

public sealed class ProgressDisplayTests
{
    [Fact]
    public void Without_a_terminal_progress_is_plain_lines_the_first_and_the_last_of_a_stage()
    {
        var stderr = new StringWriter();
        using (var progress = new ProgressDisplay(stderr, interactive: false, prefix: "eval"))
        {
            progress.Update("graded boards", 0, 100, "");          // first: printed (nothing printed for a while)
            for (int done = 1; done < 100; done++)
                progress.Update("graded boards", done, 100, "");   // within the interval: not printed
            progress.Line("a log line");
            progress.Update("graded boards", 100, 100, "97 exact"); // the end of a stage: always printed
        }

        var lines = stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.StartsWith("eval: graded boards 0/100", lines[0]);
        Assert.Equal("a log line", lines[1]);
        Assert.StartsWith("eval: graded boards 100/100, 97 exact, took ", lines[2]);
        Assert.DoesNotContain('\r', stderr.ToString());
    }

    [Fact]
    public void On_a_terminal_the_bar_is_redrawn_in_place_and_log_lines_print_above_it()
    {
        var stderr = new StringWriter();
        using (var progress = new ProgressDisplay(stderr, interactive: true, prefix: "train"))
        {
            progress.Update("steps", 50, 100, "loss 0.1");
            progress.Log.WriteLine("step 50/100 loss 0.1");
        }

        string text = stderr.ToString();
        Assert.StartsWith("[############............]  50% steps 50/100, loss 0.1, ETA ", text);
        // the log line: the bar erased, the line, the bar drawn again below it; at the end the bar is erased
        Assert.Contains("\r\u001b[2Kstep 50/100 loss 0.1\n[############............]  50%", text);
        Assert.EndsWith("\r\u001b[2K", text);
    }
}
