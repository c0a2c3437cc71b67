using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Conway.Cli.Progress;

/// <summary>
/// Progress of long work on stderr. On a terminal: one line redrawn in place, a bar with the count, the rate's ETA
/// and a status, and log lines printed above it. Otherwise (CI, files, pipes): plain lines, one at the start and one
/// at the end of each stage and at most one every <see cref="LogEvery"/> between, so logs stay readable.
/// </summary>
public sealed class ProgressDisplay : IDisposable
{
    public static readonly TimeSpan LogEvery = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan RedrawEvery = TimeSpan.FromMilliseconds(100);
    private const int BarWidth = 24;

    private readonly TextWriter _error;
    private readonly bool _interactive;
    private readonly string _prefix;
    private readonly Lock _lock = new();
    private readonly Stopwatch _sinceOutput = Stopwatch.StartNew();
    private string _stage = "";
    private long _stageStartDone;
    private readonly Stopwatch _stageClock = new();
    private string _bar = "";

    /// <param name="error">where progress goes (stderr)</param>
    /// <param name="interactive">a terminal: redraw one line; otherwise plain log lines</param>
    /// <param name="prefix">the verb, at the start of every line ("eval")</param>
    public ProgressDisplay(TextWriter error, bool interactive, string prefix)
    {
        _error = error;
        _interactive = interactive;
        _prefix = prefix;
        Log = new LineWriter(Line);
    }

    /// <summary>stderr is a terminal (not redirected to a file or a pipe).</summary>
    public static bool StderrIsTerminal => !Console.IsErrorRedirected;

    /// <summary>A writer whose every line is printed through <see cref="Line"/> (above the bar on a terminal).</summary>
    public TextWriter Log { get; }

    /// <summary>Prints one log line; on a terminal the bar is cleared first and drawn again below it.</summary>
    public void Line(string text)
    {
        lock (_lock)
        {
            ClearBar();
            _error.WriteLine(text);
            DrawBar();
        }
    }

    /// <summary><paramref name="done"/> of <paramref name="total"/> units of <paramref name="stage"/>; a new stage restarts the ETA's clock.</summary>
    public void Update(string stage, long done, long total, string status)
    {
        lock (_lock)
        {
            bool newStage = stage != _stage;
            if (newStage)
            {
                _stage = stage;
                _stageStartDone = done;
                _stageClock.Restart();
            }
            bool finished = done >= total;
            string text = Describe(stage, done, total, status);
            if (_interactive)
            {
                if (!finished && !newStage && _sinceOutput.Elapsed < RedrawEvery) return;
                ClearBar();
                _bar = $"{Bar(done, total)} {text}";
                DrawBar();
            }
            else
            {
                if (!finished && !newStage && _sinceOutput.Elapsed < LogEvery) return;
                _error.WriteLine($"{_prefix}: {text}");
            }
            _sinceOutput.Restart();
        }
    }

    /// <summary>Removes the bar (a terminal's line is left empty for what follows).</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            ClearBar();
            _bar = "";
        }
    }

    private string Describe(string stage, long done, long total, string status)
    {
        var elapsed = _stageClock.Elapsed;
        double rate = (done - _stageStartDone) / Math.Max(elapsed.TotalSeconds, 1e-9);
        string eta = done >= total ? $"took {Clock(elapsed)}"
            : rate > 0 ? $"ETA {Clock(TimeSpan.FromSeconds((total - done) / rate))}" : "ETA -";
        return string.Create(CultureInfo.InvariantCulture, $"{stage} {done}/{total}{(status == "" ? "" : ", " + status)}, {eta}");
    }

    private static string Clock(TimeSpan t) => t.TotalHours >= 1 ? $"{(int)t.TotalHours}:{t:mm\\:ss}" : t.ToString(@"mm\:ss");

    private static string Bar(long done, long total)
    {
        double fraction = total <= 0 ? 1 : Math.Clamp((double)done / total, 0, 1);
        int filled = (int)Math.Round(fraction * BarWidth);
        return string.Create(CultureInfo.InvariantCulture, $"[{new string('#', filled)}{new string('.', BarWidth - filled)}] {fraction * 100,3:F0}%");
    }

    private void DrawBar()
    {
        if (!_interactive || _bar == "") return;
        int width = Math.Max(20, TerminalWidth() - 1);
        _error.Write(_bar.Length > width ? _bar[..width] : _bar);
        _error.Flush();
    }

    private void ClearBar()
    {
        if (!_interactive || _bar == "") return;
        _error.Write("\r\u001b[2K");                    // carriage return, erase the line
    }

    private static int TerminalWidth()
    {
        try { return Console.WindowWidth > 0 ? Console.WindowWidth : 100; }
        catch (IOException) { return 100; }
    }

    /// <summary>A TextWriter that hands each complete line to a callback.</summary>
    private sealed class LineWriter(Action<string> line) : TextWriter
    {
        private readonly StringBuilder _pending = new();

        public override Encoding Encoding => Encoding.UTF8;

        public override void Write(char value)
        {
            if (value == '\n')
            {
                line(_pending.ToString().TrimEnd('\r'));
                _pending.Clear();
            }
            else _pending.Append(value);
        }

        public override void Write(string? value)
        {
            foreach (char c in value ?? "") Write(c);
        }
    }
}
