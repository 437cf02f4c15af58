using System.Globalization;
using System.Xml.Linq;

namespace Deja.Memorization.Evaluation;

/// <summary>One curve of a ROC plot.</summary>
public sealed record RocSeries(string Name, RocCurve Roc, double Auc);

/// <summary>
/// ROC curves as a standalone SVG: a linear panel, and by default a second panel with the FPR on a log
/// scale (10⁻³…1), because the low-FPR corner is what the TPR@1%/3% numbers measure and it is invisible
/// on a linear axis. Built as an XML tree, so names are escaped and the output is always well-formed.
/// </summary>
public static class RocSvg
{
    internal static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    // Tableau-10: distinguishable, and still distinguishable for the common colour-vision deficiencies.
    internal static readonly string[] Palette =
        ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

    const double Plot = 360, Left = 60, Top = 40, Bottom = 60, Gap = 70, Right = 20;
    const double LogMin = 1e-3;

    public static void Write(string path, IReadOnlyList<RocSeries> curves, bool logPanel = true, string? title = null) =>
        File.WriteAllText(path, Render(curves, logPanel, title));

    public static string Render(IReadOnlyList<RocSeries> curves, bool logPanel = true, string? title = null)
    {
        if (curves.Count == 0) throw new ArgumentException("ROC plot: no curves");
        int panels = logPanel ? 2 : 1;
        double width = Left + panels * Plot + (panels - 1) * Gap + Right;
        double height = Top + Plot + Bottom;
        var root = new XElement(Svg + "svg",
            new XAttribute("width", F(width)), new XAttribute("height", F(height)),
            new XAttribute("viewBox", $"0 0 {F(width)} {F(height)}"),
            new XAttribute("font-family", "sans-serif"), new XAttribute("font-size", "12"),
            new XElement(Svg + "rect", new XAttribute("width", "100%"), new XAttribute("height", "100%"), new XAttribute("fill", "white")));
        if (title is not null)
            root.Add(Text(width / 2, 22, title, "middle", 14));

        root.Add(Panel(curves, Left, log: false));
        if (logPanel) root.Add(Panel(curves, Left + Plot + Gap, log: true));
        root.Add(Legend(curves, Left + Plot - 10, Top + Plot - 12));
        return new XDocument(new XDeclaration("1.0", "utf-8", null), root).Declaration + "\n" + root.ToString(SaveOptions.None) + "\n";
    }

    static XElement Panel(IReadOnlyList<RocSeries> curves, double x0, bool log)
    {
        double X(double fpr) => log
            ? x0 + (Math.Log10(Math.Max(fpr, LogMin)) - Math.Log10(LogMin)) / -Math.Log10(LogMin) * Plot
            : x0 + fpr * Plot;
        double Y(double tpr) => Top + (1 - tpr) * Plot;

        var g = new XElement(Svg + "g", new XAttribute("class", log ? "panel-log" : "panel-linear"));
        // Grid and ticks.
        double[] xTicks = log ? [1e-3, 1e-2, 1e-1, 1] : [0, 0.2, 0.4, 0.6, 0.8, 1];
        foreach (var t in xTicks)
        {
            g.Add(Line(X(t), Top, X(t), Top + Plot, "#e5e5e5"));
            g.Add(Text(X(t), Top + Plot + 16, t.ToString(log ? "0.###" : "0.0", CultureInfo.InvariantCulture), "middle"));
        }
        foreach (var t in new[] { 0, 0.2, 0.4, 0.6, 0.8, 1 })
        {
            g.Add(Line(x0, Y(t), x0 + Plot, Y(t), "#e5e5e5"));
            g.Add(Text(x0 - 6, Y(t) + 4, t.ToString("0.0", CultureInfo.InvariantCulture), "end"));
        }
        g.Add(new XElement(Svg + "rect", new XAttribute("x", F(x0)), new XAttribute("y", F(Top)),
            new XAttribute("width", F(Plot)), new XAttribute("height", F(Plot)), new XAttribute("fill", "none"), new XAttribute("stroke", "black")));

        // Chance line tpr = fpr (a curve on the log axis).
        var chance = Enumerable.Range(0, 61).Select(i => log ? Math.Pow(10, Math.Log10(LogMin) * (1 - i / 60.0)) : i / 60.0);
        g.Add(new XElement(Svg + "path", new XAttribute("class", "chance"),
            new XAttribute("d", "M" + string.Join(" L", chance.Select(f => $"{F(X(f))},{F(Y(f))}"))),
            new XAttribute("fill", "none"), new XAttribute("stroke", "#999"), new XAttribute("stroke-dasharray", "4 4")));

        for (int c = 0; c < curves.Count; c++)
        {
            var points = log ? LogDensified(curves[c].Roc) : curves[c].Roc.Fpr.Zip(curves[c].Roc.Tpr);
            g.Add(new XElement(Svg + "polyline", new XAttribute("class", "roc"), new XAttribute("data-name", curves[c].Name),
                new XAttribute("points", string.Join(" ", points.Select(p => $"{F(X(p.First))},{F(Y(p.Second))}"))),
                new XAttribute("fill", "none"), new XAttribute("stroke", Palette[c % Palette.Length]), new XAttribute("stroke-width", "1.8")));
        }

        g.Add(Text(x0 + Plot / 2, Top + Plot + 40, log ? "False positive rate (log scale)" : "False positive rate", "middle"));
        var yLabel = Text(x0 - 42, Top + Plot / 2, "True positive rate", "middle");
        yLabel.Add(new XAttribute("transform", $"rotate(-90 {F(x0 - 42)} {F(Top + Plot / 2)})"));
        g.Add(yLabel);
        return g;
    }

    /// <summary>
    /// Points for the log panel: a sloped ROC segment (from tied scores) is straight in linear FPR, so it
    /// is sampled at log-spaced FPRs to draw its true shape; fpr = 0 is pinned to the left edge.
    /// </summary>
    static IEnumerable<(double First, double Second)> LogDensified(RocCurve roc)
    {
        yield return (roc.Fpr[0], roc.Tpr[0]);
        for (int i = 1; i < roc.Fpr.Length; i++)
        {
            double f0 = roc.Fpr[i - 1], f1 = roc.Fpr[i], t0 = roc.Tpr[i - 1], t1 = roc.Tpr[i];
            if (f1 > f0 && t1 > t0 && f1 > LogMin)
            {
                double a = Math.Log10(Math.Max(f0, LogMin)), b = Math.Log10(f1);
                for (int k = 1; k < 24; k++)
                {
                    double f = Math.Pow(10, a + (b - a) * k / 24.0);
                    if (f > f0) yield return (f, t0 + (t1 - t0) * (f - f0) / (f1 - f0));
                }
            }
            yield return (f1, t1);
        }
    }

    static XElement Legend(IReadOnlyList<RocSeries> curves, double right, double bottom)
    {
        var g = new XElement(Svg + "g", new XAttribute("class", "legend"));
        double lineHeight = 16, y = bottom - (curves.Count - 1) * lineHeight;
        g.Add(new XElement(Svg + "rect", new XAttribute("x", F(right - 196)), new XAttribute("y", F(y - 14)),
            new XAttribute("width", F(200)), new XAttribute("height", F(curves.Count * lineHeight + 6)),
            new XAttribute("fill", "white"), new XAttribute("fill-opacity", "0.85"), new XAttribute("stroke", "#ccc")));
        for (int c = 0; c < curves.Count; c++, y += lineHeight)
        {
            g.Add(Line(right - 190, y - 4, right - 170, y - 4, Palette[c % Palette.Length], 2.5));
            g.Add(Text(right - 164, y, $"{curves[c].Name} (AUC {curves[c].Auc.ToString("0.000", CultureInfo.InvariantCulture)})", "start"));
        }
        return g;
    }

    internal static XElement Line(double x1, double y1, double x2, double y2, string stroke, double width = 1) =>
        new(Svg + "line", new XAttribute("x1", F(x1)), new XAttribute("y1", F(y1)), new XAttribute("x2", F(x2)), new XAttribute("y2", F(y2)),
            new XAttribute("stroke", stroke), new XAttribute("stroke-width", F(width)));

    internal static XElement Text(double x, double y, string text, string anchor, double size = 12) =>
        new(Svg + "text", new XAttribute("x", F(x)), new XAttribute("y", F(y)), new XAttribute("text-anchor", anchor),
            new XAttribute("font-size", F(size)), text);

    internal static string F(double v) => Math.Round(v, 2).ToString("0.##", CultureInfo.InvariantCulture);
}
