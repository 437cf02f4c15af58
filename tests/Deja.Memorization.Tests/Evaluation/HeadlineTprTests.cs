using Deja.Memorization.Evaluation;

namespace Deja.Memorization.Tests.Evaluation;

/// <summary>
/// The headline TPR at a target FPR (issue 12 §5): the TPR at the largest ROC FPR ≤ the target. It cannot
/// read 0 for a perfect detector (J's and A's "closest point, first on ties" picks (0, 0) there) and never
/// reports a point above the target.
/// </summary>
public class HeadlineTprTests
{
    [Fact]
    public void APerfectDetectorReadsOneWhereTheClosestPointReadsZero()
    {
        var roc = RocCurve.Compute([1, 1, 1, 0, 0, 0, 0], [9, 8, 7, 3, 2, 1, 0]);
        Assert.Equal(1.0, DetectionMetrics.TprAtFprAtMost(roc, 0.01));
        Assert.Equal(1.0, DetectionMetrics.TprAtFprAtMost(roc, 0.03));
        Assert.Equal(0.0, DetectionMetrics.TprAtFprClosest(roc, 0.01)); // the reference definition, kept as is
    }

    [Fact]
    public void NeverAPointAboveTheTarget()
    {
        // METHODS.md §0.7.2 vector: points (0,0) (0,1/3) (0,2/3) (1/3,2/3) (1/3,1) (1,1).
        var roc = RocCurve.Compute([1, 1, 0, 1, 0, 0], [0.9, 0.8, 0.7, 0.6, 0.55, 0.4]);
        Assert.Equal(2.0 / 3, DetectionMetrics.TprAtFprAtMost(roc, 0.01), 12);
        Assert.Equal(2.0 / 3, DetectionMetrics.TprAtFprAtMost(roc, 0.3), 12);
        Assert.Equal(1.0, DetectionMetrics.TprAtFprAtMost(roc, 0.5)); // the vertical segment at 1/3: its top
    }

    [Fact]
    public void APointExactlyOnTheTargetCountsUnlikeWsStrictlyBelow()
    {
        // 100 negatives: one negative above the second positive puts a point at FPR exactly 0.01.
        var labels = new List<int> { 1, 0, 1 };
        var scores = new List<double> { 300, 200, 100 };
        for (int i = 0; i < 99; i++) { labels.Add(0); scores.Add(i / 1000.0); }
        var roc = RocCurve.Compute(labels.ToArray(), scores.ToArray());
        Assert.Equal(1.0, DetectionMetrics.TprAtFprAtMost(roc, 0.01));
        Assert.Equal(0.5, DetectionMetrics.TprAtFprLastBelow(roc, 0.01));
    }

    [Fact]
    public void TheMetricSetCarriesEveryDefinitionUnderItsOwnName()
    {
        var roc = RocCurve.Compute([1, 1, 1, 0, 0, 0, 0], [9, 8, 7, 3, 2, 1, 0]);
        var m = MetricSet.Of(roc);
        Assert.Equal(MetricSet.Names.Length, m.ToArray().Length);
        Assert.Equal(m, MetricSet.FromArray(m.ToArray()));
        Assert.Equal(1.0, m.ToArray()[Array.IndexOf(MetricSet.Names, "tpr_at_1_at_most")]);
        Assert.Equal(0.0, m.ToArray()[Array.IndexOf(MetricSet.Names, "tpr_at_1_closest")]);
        Assert.Equal(1.0, m.ToArray()[Array.IndexOf(MetricSet.Names, "tpr_at_1_last_below")]);
    }

    [Fact]
    public void TheTableHeadlinesTheAtMostTprAndLabelsTheReferenceOnes()
    {
        static ScoreRow Row(int i, string p, double s) => new() { Index = i, Prompt = p, Scores = new() { ["s"] = s } };
        var pos = Enumerable.Range(0, 10).Select(i => Row(i, $"m{i}", 10 + i)).ToList();
        var neg = Enumerable.Range(0, 30).Select(i => Row(i, $"n{i}", i / 100.0)).ToList();
        var report = ScoreEvaluation.Evaluate(pos, neg, new ScoreEvaluationSettings { Options = new() { BootstrapResamples = 20 } });
        var table = ScoreEvaluationFormat.Table(report);
        var lines = table.Split('\n');
        int headline = lines[0].IndexOf("TPR@1%FPR", StringComparison.Ordinal), closest = lines[0].IndexOf("closest@1%", StringComparison.Ordinal);
        Assert.Equal("1.000 [1.000, 1.000]", lines[1].Substring(headline, 20));
        Assert.Equal("0.000", lines[1].Substring(closest, 5));
        Assert.Contains("TPR at the largest ROC FPR ≤ the target (never above it)", table);
        Assert.Contains("closest@1%, closest@3% = ROC point closest to the", table);
        Assert.Contains("below@1% = last ROC point with FPR < 1% (W)", table);

        using var json = System.Text.Json.JsonDocument.Parse(ScoreEvaluationFormat.Json(report));
        var column = json.RootElement.GetProperty("columns")[0];
        foreach (var name in MetricSet.Names) Assert.True(column.TryGetProperty(name, out _), name);
        Assert.StartsWith("headline: TPR at the largest ROC FPR <= 1%", json.RootElement.GetProperty("definitions").GetProperty("tpr_at_1_at_most").GetString());
        Assert.Equal(MetricSet.Names.Length, MetricSet.Definitions.Length);
    }
}
