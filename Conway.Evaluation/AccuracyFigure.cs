using System.Globalization;
using System.Security;
using System.Text;

namespace Conway.Evaluation;

/// <summary>
/// accuracy.svg, a self-contained figure written by hand: (left) exact-board rate and cell accuracy per density
/// band, (right) how many autoregressive rollouts are still exact after each step.
/// To PNG (as the docs do): <c>rsvg-convert accuracy.svg -o accuracy.png</c>.
/// </summary>
public static class AccuracyFigure
{
    private const double Width = 1000, Height = 450, Top = 95, Bottom = 365;
    private const string Bars = "#4c72b0", Line = "#dd8452", Survival = "#55a868", Grid = "#e3e3e3", Ink = "#333333";

    public static string Svg(EvalReport r)
    {
        var svg = new SvgWriter();
        svg.Add($"""<svg xmlns="http://www.w3.org/2000/svg" width="{Width}" height="{Height}" viewBox="0 0 {Width} {Height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" fill="{Ink}">""");
        svg.Add($"""<rect width="{Width}" height="{Height}" fill="white"/>""");
        svg.Text(Width / 2, 30, "LifeGPT next-state accuracy (greedy decoding)", 20, "middle", "bold");
        svg.Text(Width / 2, 52, $"model {r.Run.ModelSha256[..Math.Min(12, r.Run.ModelSha256.Length)]}, {r.Run.Decoding}, {r.Run.Device}, {r.Run.StartedUtc:yyyy-MM-dd}", 12, "middle", fill: "#777777");
        DensityPanel(svg, r, new Panel(80, 450, 0, 1, 0, 100));
        RolloutPanel(svg, r);
        svg.Add($"</svg>");
        return svg.ToString();
    }

    private static void DensityPanel(SvgWriter svg, EvalReport r, Panel p)
    {
        p.Frame(svg, $"Random boards by density band ({r.Random.Boards} boards)", "initial density (fraction of live cells)", "accuracy (%)",
            Enumerable.Range(0, DensityBands.Count + 1).Select(DensityBands.Edge), x => x.ToString("0.0", CultureInfo.InvariantCulture),
            Enumerable.Range(0, 6).Select(i => i * 20.0), y => y.ToString("0", CultureInfo.InvariantCulture));
        var bands = r.Density.Where(b => b.Score.Boards > 0).ToArray();
        if (bands.Length == 0)
        {
            p.Note(svg, "no random boards");
            return;
        }
        const double gap = 0.012;
        foreach (var b in bands)
        {
            double rate = b.Score.ExactRate!.Value, top = p.Y(100 * rate), height = p.Y(0) - top;
            svg.Add($"""<rect x="{p.X(b.Low + gap)}" y="{top}" width="{p.X(b.High - gap) - p.X(b.Low + gap)}" height="{height}" fill="{Bars}" fill-opacity="0.85"/>""");
            // the rate on the bar (inside it, under the cell-accuracy line, unless the bar is too short)
            bool inside = height > 24;
            svg.Text(p.X((b.Low + b.High) / 2), inside ? top + 17 : top - 5, Score.Percent(rate, 1), 9, "middle", fill: inside ? "white" : Ink);
        }
        var points = bands.Select(b => (X: p.X((b.Low + b.High) / 2), Y: p.Y(100 * b.Score.CellAccuracy!.Value))).ToArray();
        svg.Add($"""<polyline points="{string.Join(" ", points.Select(q => SvgWriter.Invariant($"{q.X},{q.Y}")))}" fill="none" stroke="{Line}" stroke-width="2.5"/>""");
        foreach (var (x, y) in points) svg.Add($"""<circle cx="{x}" cy="{y}" r="4" fill="{Line}" stroke="white" stroke-width="1"/>""");
        p.Legend(svg, [(Bars, "exact boards (%)", false), (Line, "cells right (%)", true)]);
    }

    private static void RolloutPanel(SvgWriter svg, EvalReport r)
    {
        int steps = Math.Max(1, r.RolloutSteps), count = Math.Max(1, r.Rollouts.Length);
        var p = new Panel(580, 950, 0, steps, 0, count);
        p.Frame(svg, $"Autoregressive rollouts ({r.Rollouts.Length} trajectories)", "step (the model fed its own predictions)", "rollouts still exact",
            NiceTicks(steps), x => x.ToString("0", CultureInfo.InvariantCulture),
            NiceTicks(count), y => y.ToString("0", CultureInfo.InvariantCulture));
        if (r.Rollouts.Length == 0)
        {
            p.Note(svg, "rollouts skipped");
            return;
        }
        // a step function: Survival[s] rollouts are exact from step s until step s + 1
        var path = new StringBuilder(SvgWriter.Invariant($"M{p.X(0)},{p.Y(r.Survival[0])}"));
        for (int s = 1; s < r.Survival.Length; s++)
            if (r.Survival[s] != r.Survival[s - 1]) path.Append(SvgWriter.Invariant($" H{p.X(s)} V{p.Y(r.Survival[s])}"));
        path.Append(SvgWriter.Invariant($" H{p.X(r.Survival.Length - 1)}"));
        svg.Add($"""<path d="{path} V{p.Y(0)} H{p.X(0)} Z" fill="{Survival}" fill-opacity="0.15" stroke="none"/>""");
        svg.Add($"""<path d="{path}" fill="none" stroke="{Survival}" stroke-width="2.5"/>""");
        p.Legend(svg, [(Survival, $"{r.Survival[^1]} of {r.Rollouts.Length} exact for all {r.RolloutSteps} steps", true)]);
    }

    /// <summary>About five round ticks from 0 to <paramref name="max"/> (and max itself).</summary>
    private static IEnumerable<double> NiceTicks(int max)
    {
        int step = new[] { 1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000 }.FirstOrDefault(s => max / s <= 6, max);
        var ticks = Enumerable.Range(0, max / step + 1).Select(i => (double)(i * step)).ToList();
        if (ticks[^1] < max && max - ticks[^1] > step / 3.0) ticks.Add(max);
        return ticks;
    }

    /// <summary>A plot area from (Left, Top) to (Right, Bottom) mapping data [XMin, XMax] x [YMin, YMax].</summary>
    private sealed record Panel(double Left, double Right, double XMin, double XMax, double YMin, double YMax)
    {
        public double X(double x) => Math.Round(Left + (x - XMin) / (XMax - XMin) * (Right - Left), 1);
        public double Y(double y) => Math.Round(Bottom - (y - YMin) / (YMax - YMin) * (Bottom - Top), 1);

        public void Frame(SvgWriter svg, string title, string xLabel, string yLabel,
            IEnumerable<double> xTicks, Func<double, string> xFormat, IEnumerable<double> yTicks, Func<double, string> yFormat)
        {
            double middle = (Left + Right) / 2;
            svg.Text(middle, Top - 18, title, 14, "middle", "bold");
            foreach (double y in yTicks)
            {
                svg.Add($"""<line x1="{Left}" y1="{Y(y)}" x2="{Right}" y2="{Y(y)}" stroke="{Grid}"/>""");
                svg.Text(Left - 8, Y(y) + 4, yFormat(y), 11, "end");
            }
            foreach (double x in xTicks)
            {
                svg.Add($"""<line x1="{X(x)}" y1="{Bottom}" x2="{X(x)}" y2="{Bottom + 5}" stroke="{Ink}"/>""");
                svg.Text(X(x), Bottom + 19, xFormat(x), 11, "middle");
            }
            svg.Add($"""<path d="M{Left},{Top} V{Bottom} H{Right}" fill="none" stroke="{Ink}" stroke-width="1.2"/>""");
            svg.Text(middle, Bottom + 40, xLabel, 12, "middle");
            double yMiddle = (Top + Bottom) / 2;
            svg.Add($"""<text x="{Left - 42}" y="{yMiddle}" font-size="12" text-anchor="middle" transform="rotate(-90 {Left - 42} {yMiddle})">{SecurityElement.Escape(yLabel)}</text>""");
        }

        /// <summary>Legend entries side by side under the x-axis label: a swatch (bar or line) and a text.</summary>
        public void Legend(SvgWriter svg, (string Colour, string Text, bool IsLine)[] entries)
        {
            double x = Left, y = Bottom + 68;
            foreach (var (colour, text, isLine) in entries)
            {
                if (isLine) svg.Add($"""<line x1="{x}" y1="{y - 4}" x2="{x + 22}" y2="{y - 4}" stroke="{colour}" stroke-width="2.5"/>""");
                else svg.Add($"""<rect x="{x + 3}" y="{y - 11}" width="16" height="14" fill="{colour}" fill-opacity="0.85"/>""");
                svg.Text(x + 30, y, text, 12, "start");
                x += 48 + 7 * text.Length;
            }
        }

        public void Note(SvgWriter svg, string text) => svg.Text((Left + Right) / 2, (Top + Bottom) / 2, text, 14, "middle", fill: "#999999");
    }

    /// <summary>SVG text with every number written the same way on every machine.</summary>
    private sealed class SvgWriter
    {
        private readonly StringBuilder _sb = new();

        public static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

        public void Add(FormattableString element) => _sb.Append(Invariant(element)).Append('\n');

        public void Text(double x, double y, string text, double size, string anchor, string weight = "normal", string? fill = null) =>
            Add($"""<text x="{x:0.#}" y="{y:0.#}" font-size="{size}" text-anchor="{anchor}" font-weight="{weight}"{(fill is null ? "" : $" fill=\"{fill}\"")}>{SecurityElement.Escape(text)}</text>""");

        public override string ToString() => _sb.ToString();
    }
}
