using System.Xml.Linq;
using Deja.Memorization.Evaluation;

namespace Deja.Memorization.Tests.Evaluation;

public class RocSvgTests
{
    static RocSeries Series(string name, double[] scores)
    {
        int[] labels = [1, 1, 0, 1, 0, 0];
        var roc = RocCurve.Compute(labels, scores);
        return new RocSeries(name, roc, DetectionMetrics.Auc(roc));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void WellFormedWithOnePolylinePerCurvePerPanel(bool logPanel)
    {
        var curves = new[]
        {
            Series("anisotropy", [0.9, 0.8, 0.7, 0.6, 0.55, 0.4]),
            Series("norm <&> \"quoted\"", [0.5, 0.5, 0.1, 0.5, 0.2, 0.3]),
            Series("cosine", [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]),
        };
        var svg = RocSvg.Render(curves, logPanel, title: "SD1 mem vs nmem");
        var doc = XDocument.Parse(svg);
        XNamespace ns = "http://www.w3.org/2000/svg";
        Assert.Equal(ns + "svg", doc.Root!.Name);
        var panels = doc.Descendants(ns + "g").Where(g => ((string?)g.Attribute("class"))?.StartsWith("panel") == true).ToList();
        Assert.Equal(logPanel ? 2 : 1, panels.Count);
        foreach (var panel in panels)
        {
            var lines = panel.Elements(ns + "polyline").ToList();
            Assert.Equal(curves.Length, lines.Count);
            Assert.Equal(curves.Select(c => c.Name), lines.Select(l => (string)l.Attribute("data-name")!));
            Assert.Equal(3, lines.Select(l => (string)l.Attribute("stroke")!).Distinct().Count());
            foreach (var l in lines)
                Assert.All(((string)l.Attribute("points")!).Split(' '), p => Assert.Matches(@"^-?\d+(\.\d+)?,-?\d+(\.\d+)?$", p));
        }
        var texts = doc.Descendants(ns + "text").Select(t => t.Value).ToList();
        Assert.Contains("norm <&> \"quoted\" (AUC 1.000)", texts);
        Assert.Contains("anisotropy (AUC 0.889)", texts);
        Assert.Contains("True positive rate", texts);
        Assert.Contains(logPanel ? "False positive rate (log scale)" : "False positive rate", texts);
    }
}
