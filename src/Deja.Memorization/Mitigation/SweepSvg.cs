using System.Globalization;
using System.Xml.Linq;
using Deja.Memorization.Evaluation;

namespace Deja.Memorization.Mitigation;

/// <summary>
/// A sweep's trade-off plot as a standalone SVG, in the ROC plot's style (RocSvg: palette, fonts, grid):
/// caption fidelity on x (right is better), replication rate by L2 &lt; 0.1 on y (down is better), one
/// path per swept method through its points in the order given, each point labelled with its strength,
/// and the un-mitigated point as a black square. Methods are compared at equal fidelity by reading
/// across. Built as an XML tree, so labels are escaped and the output is always well-formed.
/// </summary>
public static class SweepSvg
{
    static XNamespace Svg => RocSvg.Svg;
    const double Plot = 360, Left = 70, Top = 40, Bottom = 60, Right = 190;

    public static string Render(IReadOnlyList<SweepPoint> points, string? title = null)
    {
        if (points.Count == 0) throw new ArgumentException("sweep plot: no points");
        if (points.Any(p => p.Fidelity is null)) throw new ArgumentException("sweep plot: every point needs a caption fidelity");
        // The fidelity axis spans the points (to 0.1), at least 0.2 wide: differences of a few points must be visible.
        double lo = Math.Floor(points.Min(p => p.Fidelity!.Value) * 10) / 10, hi = Math.Ceiling(points.Max(p => p.Fidelity!.Value) * 10) / 10;
        if (hi - lo < 0.2) { hi = Math.Min(1, lo + 0.2); lo = hi - 0.2; }
        double X(double f) => Left + (f - lo) / (hi - lo) * Plot;
        double Y(double r) => Top + (1 - r) * Plot;

        double width = Left + Plot + Right, height = Top + Plot + Bottom;
        var root = new XElement(Svg + "svg",
            new XAttribute("width", RocSvg.F(width)), new XAttribute("height", RocSvg.F(height)),
            new XAttribute("viewBox", $"0 0 {RocSvg.F(width)} {RocSvg.F(height)}"),
            new XAttribute("font-family", "sans-serif"), new XAttribute("font-size", "12"),
            new XElement(Svg + "rect", new XAttribute("width", "100%"), new XAttribute("height", "100%"), new XAttribute("fill", "white")));
        if (title is not null) root.Add(RocSvg.Text(Left + Plot / 2, 22, title, "middle", 14));

        var g = new XElement(Svg + "g", new XAttribute("class", "panel"));
        for (int i = 0; i <= 5; i++)
        {
            double f = lo + (hi - lo) * i / 5, r = i / 5.0;
            g.Add(RocSvg.Line(X(f), Top, X(f), Top + Plot, "#e5e5e5"));
            g.Add(RocSvg.Text(X(f), Top + Plot + 16, f.ToString("0.00", CultureInfo.InvariantCulture), "middle"));
            g.Add(RocSvg.Line(Left, Y(r), Left + Plot, Y(r), "#e5e5e5"));
            g.Add(RocSvg.Text(Left - 6, Y(r) + 4, r.ToString("0.0", CultureInfo.InvariantCulture), "end"));
        }
        g.Add(new XElement(Svg + "rect", new XAttribute("x", RocSvg.F(Left)), new XAttribute("y", RocSvg.F(Top)),
            new XAttribute("width", RocSvg.F(Plot)), new XAttribute("height", RocSvg.F(Plot)), new XAttribute("fill", "none"), new XAttribute("stroke", "black")));

        var methods = points.Where(p => p.Strength is not null).Select(p => p.Method).Distinct().ToList();
        var legend = new XElement(Svg + "g", new XAttribute("class", "legend"));
        double ly = Top + 10;
        for (int m = 0; m < methods.Count; m++, ly += 16)
        {
            string colour = RocSvg.Palette[m % RocSvg.Palette.Length];
            var curve = points.Where(p => p.Method == methods[m] && p.Strength is not null).ToList();
            g.Add(new XElement(Svg + "path", new XAttribute("class", "curve"), new XAttribute("data-method", methods[m]),
                new XAttribute("d", "M" + string.Join(" L", curve.Select(p => $"{RocSvg.F(X(p.Fidelity!.Value))},{RocSvg.F(Y(p.ReplicationL2))}"))),
                new XAttribute("fill", "none"), new XAttribute("stroke", colour), new XAttribute("stroke-width", "1.8")));
            foreach (var p in curve)
            {
                g.Add(new XElement(Svg + "circle", new XAttribute("class", "point"), new XAttribute("data-method", p.Method),
                    new XAttribute("cx", RocSvg.F(X(p.Fidelity!.Value))), new XAttribute("cy", RocSvg.F(Y(p.ReplicationL2))), new XAttribute("r", "3.5"),
                    new XAttribute("fill", colour)));
                g.Add(RocSvg.Text(X(p.Fidelity.Value) + 5, Y(p.ReplicationL2) - 5, SweepCurve.Format(p.Strength!.Value), "start", 10));
            }
            legend.Add(RocSvg.Line(Left + Plot + 16, ly - 4, Left + Plot + 36, ly - 4, colour, 2.5));
            legend.Add(RocSvg.Text(Left + Plot + 42, ly, $"{methods[m]} ({SweepCurve.StrengthName(MitigationRun.ParseMethod(methods[m]))})", "start", 11));
        }
        foreach (var p in points.Where(p => p.Strength is null))
        {
            g.Add(new XElement(Svg + "rect", new XAttribute("class", "baseline"), new XAttribute("x", RocSvg.F(X(p.Fidelity!.Value) - 4)),
                new XAttribute("y", RocSvg.F(Y(p.ReplicationL2) - 4)), new XAttribute("width", "8"), new XAttribute("height", "8"), new XAttribute("fill", "black")));
            g.Add(RocSvg.Text(X(p.Fidelity.Value) + 6, Y(p.ReplicationL2) - 6, p.Method, "start", 10));
        }
        if (points.Any(p => p.Strength is null))
        {
            legend.Add(new XElement(Svg + "rect", new XAttribute("x", RocSvg.F(Left + Plot + 22)), new XAttribute("y", RocSvg.F(ly - 8)),
                new XAttribute("width", "8"), new XAttribute("height", "8"), new XAttribute("fill", "black")));
            legend.Add(RocSvg.Text(Left + Plot + 42, ly, "none (un-mitigated)", "start", 11));
        }
        g.Add(RocSvg.Text(Left + Plot / 2, Top + Plot + 40, "Caption fidelity (judge; mean over generations)", "middle"));
        var yLabel = RocSvg.Text(Left - 44, Top + Plot / 2, "Replication rate (L2 < 0.1)", "middle");
        yLabel.Add(new XAttribute("transform", $"rotate(-90 {RocSvg.F(Left - 44)} {RocSvg.F(Top + Plot / 2)})"));
        g.Add(yLabel);
        root.Add(g, legend);
        return new XDocument(new XDeclaration("1.0", "utf-8", null), root).Declaration + "\n" + root.ToString(SaveOptions.None) + "\n";
    }
}
