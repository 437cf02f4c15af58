using System.Globalization;
using System.Xml.Linq;

namespace Deja.Memorization.Reporting;

/// <summary>One group of scores in a histogram (memorized, non-memorized, or unlabelled).</summary>
public sealed record HistogramGroup(string Name, IReadOnlyList<double> Scores, string Colour);

/// <summary>
/// Score histograms of several groups over the same bins, drawn as outlined translucent bars on top of
/// each other, with the decision threshold as a vertical line. Heights are each group's share of its own
/// prompts, not counts, so that groups of different sizes compare (171 memorized vs 225 held-out
/// captions); the counts are in each bar's data-count and tooltip. Built with XElement, so names are escaped.
/// </summary>
public static class ScoreHistogramSvg
{
    static readonly XNamespace Svg = "http://www.w3.org/2000/svg";
    const double Width = 520, Height = 250, Left = 56, Right = 16, Top = 40, Bottom = 46;

    /// <summary>
    /// Counts of <paramref name="values"/> in <paramref name="bins"/> equal bins over [lo, hi]: bin k holds
    /// [lo + k·w, lo + (k+1)·w), the last bin also holds hi (as numpy.histogram). Values outside are not counted.
    /// </summary>
    public static int[] Counts(IEnumerable<double> values, double lo, double hi, int bins)
    {
        if (bins < 1) throw new ArgumentOutOfRangeException(nameof(bins), "histogram: at least one bin");
        if (!(hi > lo)) throw new ArgumentException($"histogram: empty range [{lo}, {hi}]");
        var counts = new int[bins];
        foreach (var v in values)
        {
            if (!(v >= lo && v <= hi)) continue;
            int k = (int)Math.Floor((v - lo) / (hi - lo) * bins);
            counts[Math.Min(k, bins - 1)]++;
        }
        return counts;
    }

    /// <summary>The bin range: every score (and the threshold, so its line is on the plot), widened when all are equal.</summary>
    public static (double Lo, double Hi) Range(IEnumerable<double> values, double? threshold)
    {
        var all = values.Where(double.IsFinite).ToList();
        if (threshold is { } t && double.IsFinite(t)) all.Add(t);
        if (all.Count == 0) return (0, 1);
        double lo = all.Min(), hi = all.Max();
        if (!(hi > lo)) { double pad = Math.Max(Math.Abs(lo) * 0.05, 0.5); lo -= pad; hi += pad; }
        return (lo, hi);
    }

    public static string Render(string column, IReadOnlyList<HistogramGroup> groups, double? threshold, string? thresholdLabel, int bins = 30)
    {
        if (groups.Count == 0 || groups.All(g => g.Scores.Count == 0)) throw new ArgumentException("histogram: no scores");
        var (lo, hi) = Range(groups.SelectMany(g => g.Scores), threshold);
        double plotW = Width - Left - Right, plotH = Height - Top - Bottom;
        double X(double v) => Left + (v - lo) / (hi - lo) * plotW;
        var counts = groups.Select(g => Counts(g.Scores, lo, hi, bins)).ToList();
        double maxShare = groups.Select((g, i) => g.Scores.Count == 0 ? 0 : counts[i].Max() / (double)g.Scores.Count).Max();
        if (!(maxShare > 0)) maxShare = 1;
        double Y(double share) => Top + plotH * (1 - share / maxShare);

        var root = new XElement(Svg + "svg", new XAttribute("class", "histogram"), new XAttribute("data-column", column),
            new XAttribute("width", F(Width)), new XAttribute("height", F(Height)), new XAttribute("viewBox", $"0 0 {F(Width)} {F(Height)}"),
            new XAttribute("font-family", "sans-serif"), new XAttribute("font-size", "11"),
            new XElement(Svg + "rect", new XAttribute("width", "100%"), new XAttribute("height", "100%"), new XAttribute("fill", "white")),
            Text(Left + plotW / 2, 16, $"{column}: score histogram", "middle", 13));
        // Axes: x ticks at 5 evenly spaced scores, y at 0 and the largest share.
        root.Add(Line(Left, Top + plotH, Left + plotW, Top + plotH, "#333"), Line(Left, Top, Left, Top + plotH, "#333"));
        for (int i = 0; i <= 4; i++)
        {
            double v = lo + (hi - lo) * i / 4;
            root.Add(Line(X(v), Top + plotH, X(v), Top + plotH + 4, "#333"), Text(X(v), Top + plotH + 16, v.ToString("G3", CultureInfo.InvariantCulture), "middle", 10));
        }
        root.Add(Text(Left - 6, Top + plotH + 3, "0", "end", 10), Text(Left - 6, Top + 8, maxShare.ToString("0.00", CultureInfo.InvariantCulture), "end", 10));
        var yLabel = Text(14, Top + plotH / 2, "share of prompts", "middle", 10);
        yLabel.Add(new XAttribute("transform", $"rotate(-90 14 {F(Top + plotH / 2)})"));
        root.Add(yLabel, Text(Left + plotW / 2, Height - 8, "score (higher = more likely memorized)", "middle", 10));

        double binW = plotW / bins;
        for (int gi = 0; gi < groups.Count; gi++)
        {
            var g = groups[gi];
            var layer = new XElement(Svg + "g", new XAttribute("class", "group"), new XAttribute("data-group", g.Name));
            for (int k = 0; k < bins; k++)
            {
                if (counts[gi][k] == 0) continue;
                double share = counts[gi][k] / (double)g.Scores.Count, y = Y(share);
                double from = lo + (hi - lo) * k / bins, to = lo + (hi - lo) * (k + 1) / bins;
                layer.Add(new XElement(Svg + "rect", new XAttribute("class", "bar"), new XAttribute("data-count", counts[gi][k]),
                    new XAttribute("x", F(Left + k * binW)), new XAttribute("y", F(y)), new XAttribute("width", F(binW)),
                    new XAttribute("height", F(Top + plotH - y)), new XAttribute("fill", g.Colour), new XAttribute("fill-opacity", "0.45"),
                    new XAttribute("stroke", g.Colour),
                    new XElement(Svg + "title", $"{g.Name}: {counts[gi][k]} of {g.Scores.Count} in [{from.ToString("G4", CultureInfo.InvariantCulture)}, {to.ToString("G4", CultureInfo.InvariantCulture)})")));
            }
            root.Add(layer);
        }
        if (threshold is { } t && double.IsFinite(t))
        {
            root.Add(new XElement(Svg + "line", new XAttribute("class", "threshold"), new XAttribute("data-threshold", t.ToString("R", CultureInfo.InvariantCulture)),
                new XAttribute("x1", F(X(t))), new XAttribute("x2", F(X(t))), new XAttribute("y1", F(Top - 18)), new XAttribute("y2", F(Top + plotH)),
                new XAttribute("stroke", "black"), new XAttribute("stroke-width", "2"), new XAttribute("stroke-dasharray", "5 3")));
            // The label sits above the plot, between the title and the bars, so it never covers the legend.
            bool right = X(t) < Left + plotW * 0.6;
            root.Add(Text(X(t) + (right ? 4 : -4), Top - 8, thresholdLabel ?? $"threshold {t.ToString("G4", CultureInfo.InvariantCulture)}", right ? "start" : "end", 10));
        }
        // Legend in a top corner, on the side away from the threshold line, on a translucent white box.
        bool thresholdRight = threshold is { } th && double.IsFinite(th) && X(th) > Left + plotW / 2;
        double lx = thresholdRight ? Left + 8 : Left + plotW - 150, ly = Top + 6;
        root.Add(new XElement(Svg + "rect", new XAttribute("x", F(lx - 4)), new XAttribute("y", F(ly - 11)), new XAttribute("width", "146"),
            new XAttribute("height", F(14 * groups.Count + 4)), new XAttribute("fill", "white"), new XAttribute("fill-opacity", "0.85")));
        foreach (var g in groups)
        {
            root.Add(new XElement(Svg + "rect", new XAttribute("x", F(lx)), new XAttribute("y", F(ly - 8)), new XAttribute("width", "10"),
                new XAttribute("height", "10"), new XAttribute("fill", g.Colour), new XAttribute("fill-opacity", "0.45"), new XAttribute("stroke", g.Colour)));
            root.Add(Text(lx + 14, ly + 1, $"{g.Name} ({g.Scores.Count})", "start", 10));
            ly += 14;
        }
        return root.ToString(SaveOptions.None) + "\n";
    }

    static XElement Line(double x1, double y1, double x2, double y2, string stroke) =>
        new(Svg + "line", new XAttribute("x1", F(x1)), new XAttribute("y1", F(y1)), new XAttribute("x2", F(x2)), new XAttribute("y2", F(y2)), new XAttribute("stroke", stroke));

    static XElement Text(double x, double y, string text, string anchor, int size) =>
        new(Svg + "text", new XAttribute("x", F(x)), new XAttribute("y", F(y)), new XAttribute("text-anchor", anchor), new XAttribute("font-size", size), text);

    static string F(double v) => Math.Round(v, 2).ToString("0.##", CultureInfo.InvariantCulture);
}
