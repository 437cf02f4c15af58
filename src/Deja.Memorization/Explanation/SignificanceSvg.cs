using System.Globalization;
using System.Xml.Linq;

namespace Deja.Memorization.Explanation;

/// <summary>
/// Token significances as an SVG bar chart: one panel per prompt, one bar per token, bars scaled to the
/// largest significance in the chart so that prompts compare. Text goes through XElement, so prompts are
/// escaped (they are untrusted text).
/// </summary>
public static class SignificanceSvg
{
    static readonly XNamespace Svg = "http://www.w3.org/2000/svg";
    const double Left = 60, Right = 20, PanelHeight = 170, BarArea = 100, TitleHeight = 24, LabelHeight = 60, Bar = 22, MinWidth = 480;

    public static string Render(IReadOnlyList<ExplanationRow> rows)
    {
        if (rows.Count == 0) throw new ArgumentException("significance chart: no prompts");
        int maxTokens = Math.Max(1, rows.Max(r => r.Tokens.Count));
        int longestTitle = rows.Max(r => Math.Min(r.Prompt.Length, 110) + 6);
        double width = Math.Max(MinWidth, Math.Max(Left + maxTokens * Bar + Right, Left + 6.6 * longestTitle + Right));
        double height = rows.Count * (PanelHeight + LabelHeight) + 10;
        double max = rows.SelectMany(r => r.Tokens).Select(t => t.Significance).DefaultIfEmpty(0).Max();
        var root = new XElement(Svg + "svg",
            new XAttribute("width", F(width)), new XAttribute("height", F(height)), new XAttribute("viewBox", $"0 0 {F(width)} {F(height)}"),
            new XAttribute("font-family", "sans-serif"), new XAttribute("font-size", "11"),
            new XElement(Svg + "rect", new XAttribute("width", "100%"), new XAttribute("height", "100%"), new XAttribute("fill", "white")));
        for (int i = 0; i < rows.Count; i++)
            root.Add(Panel(rows[i], i * (PanelHeight + LabelHeight), max));
        return new XDocument(new XDeclaration("1.0", "utf-8", null), root).Declaration + "\n" + root.ToString(SaveOptions.None) + "\n";
    }

    static XElement Panel(ExplanationRow row, double y0, double max)
    {
        var g = new XElement(Svg + "g", new XAttribute("class", "prompt"));
        string title = row.Prompt.Length > 110 ? row.Prompt[..107] + "…" : row.Prompt;
        g.Add(Text(Left, y0 + 16, $"[{row.Index}] {title}", "start", 12));
        double baseY = y0 + TitleHeight + BarArea + 8;
        g.Add(new XElement(Svg + "line", new XAttribute("x1", F(Left)), new XAttribute("x2", F(Left + Math.Max(1, row.Tokens.Count) * Bar)),
            new XAttribute("y1", F(baseY)), new XAttribute("y2", F(baseY)), new XAttribute("stroke", "#333")));
        g.Add(Text(Left - 6, baseY, "0", "end", 10));
        g.Add(Text(Left - 6, baseY - BarArea + 4, max.ToString("0.###", CultureInfo.InvariantCulture), "end", 10));
        for (int k = 0; k < row.Tokens.Count; k++)
        {
            var t = row.Tokens[k];
            double h = max > 0 ? BarArea * t.Significance / max : 0, x = Left + k * Bar;
            g.Add(new XElement(Svg + "rect", new XAttribute("x", F(x + 2)), new XAttribute("y", F(baseY - h)),
                new XAttribute("width", F(Bar - 4)), new XAttribute("height", F(h)), new XAttribute("fill", "#1f77b4"),
                new XElement(Svg + "title", $"{t.Token}: {t.Significance.ToString("G5", CultureInfo.InvariantCulture)}")));
            var label = Text(0, 0, t.Token, "end", 10);
            label.Add(new XAttribute("transform", $"translate({F(x + Bar / 2 + 3)},{F(baseY + 8)}) rotate(-60)"));
            g.Add(label);
        }
        return g;
    }

    static XElement Text(double x, double y, string text, string anchor, int size) =>
        new(Svg + "text", new XAttribute("x", F(x)), new XAttribute("y", F(y)), new XAttribute("text-anchor", anchor),
            new XAttribute("font-size", size), text);

    static string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);
}
