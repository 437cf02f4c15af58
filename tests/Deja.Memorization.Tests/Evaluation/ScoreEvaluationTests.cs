using System.Text.Json;
using Deja.Memorization.Evaluation;
using Deja.Tensors;

namespace Deja.Memorization.Tests.Evaluation;

public class ScoreEvaluationTests
{
    static ScoreRow Row(int index, string prompt, params (string Name, double Value)[] scores)
    {
        var d = new OrderedDictionary<string, double>();
        foreach (var (n, v) in scores) d[n] = v;
        return new ScoreRow { Index = index, Prompt = prompt, Scores = d };
    }

    // The METHODS.md §0.7.2 vector as rows: memorized scores 0.9, 0.8, 0.6; non-memorized 0.7, 0.55, 0.4.
    static (List<ScoreRow> Pos, List<ScoreRow> Neg) Vector(bool extraColumnEverywhere = true)
    {
        var pos = new List<ScoreRow> { Row(0, "m0", ("a", 0.9), ("b", 0.1)), Row(1, "m1", ("a", 0.8), ("b", 0.2)), Row(2, "m2", ("a", 0.6), ("b", 0.4)) };
        var neg = new List<ScoreRow> { Row(0, "n0", ("a", 0.7), ("b", 0.3)), Row(1, "n1", ("a", 0.55), ("b", 0.45)), Row(2, "n2", ("a", 0.4), ("b", 0.6)) };
        if (!extraColumnEverywhere) neg[1] = Row(1, "n1", ("a", 0.55));
        return (pos, neg);
    }

    [Fact]
    public void EvaluatesEveryCommonColumnAndFormatsATable()
    {
        var (pos, neg) = Vector();
        var report = ScoreEvaluation.Evaluate(pos, neg, new ScoreEvaluationSettings { Options = new() { BootstrapResamples = 200 } });
        Assert.Equal(["a", "b"], report.Columns.Select(c => c.Column));
        var a = report.Columns[0].Result;
        Assert.Equal(8.0 / 9, a.Point.Auc, 12);
        Assert.Equal(2.0 / 3, a.Point.TprAt1LastBelow, 12);
        Assert.Equal(0, a.Point.TprAt1Closest);
        Assert.Equal(5.0 / 6, a.Point.BalancedAccuracy, 12);

        var table = ScoreEvaluationFormat.Table(report);
        var lines = table.Split('\n');
        Assert.StartsWith("column", lines[0]);
        Assert.Contains("3/3", lines[1]);
        Assert.Contains("0.889 [", lines[1]);
        // Aligned: the AUC column starts at the same offset in every row.
        int at = lines[0].IndexOf("AUC", StringComparison.Ordinal);
        Assert.Equal("0.889", lines[1].Substring(at, 5));
        Assert.Contains("200 stratified resamples", table);
    }

    [Fact]
    public void FlipAndBf16Options()
    {
        var (pos, neg) = Vector();
        var report = ScoreEvaluation.Evaluate(pos, neg, new ScoreEvaluationSettings { BFloat16 = true, Options = new() { BootstrapResamples = 0, FlipIfBelowHalf = true } });
        var b = report.Columns[1].Result;
        Assert.True(b.Flipped);
        Assert.True(b.Point.Auc > 0.5);
        Assert.Contains("b (flipped)", ScoreEvaluationFormat.Table(report));
        Assert.Contains("bfloat16", ScoreEvaluationFormat.Table(report));
    }

    [Fact]
    public void ColumnsMissingSomewhereAreSkippedWithAReason()
    {
        var (pos, neg) = Vector(extraColumnEverywhere: false);
        var report = ScoreEvaluation.Evaluate(pos, neg, new ScoreEvaluationSettings { Options = new() { BootstrapResamples = 0 } });
        Assert.Equal(["a"], report.Columns.Select(c => c.Column));
        Assert.Equal(("b", "missing in 1 of 6 rows"), report.Skipped.Single());
        Assert.Contains("skipped column b: missing in 1 of 6 rows", ScoreEvaluationFormat.Table(report));

        var e = Assert.Throws<DejaException>(() => ScoreEvaluation.Evaluate(pos, neg, new ScoreEvaluationSettings { Columns = ["b"] }));
        Assert.Contains("\"b\" is missing in 1 of 6 rows", e.Message);
        Assert.Contains("no column \"zzz\"", Assert.Throws<DejaException>(() => ScoreEvaluation.Evaluate(pos, neg, new ScoreEvaluationSettings { Columns = ["zzz"] })).Message);
    }

    [Fact]
    public void ErrorsAndWarnings()
    {
        var pos = new List<ScoreRow> { Row(0, "m0", ("a", 1)), Row(1, "m0", ("a", 2)) };
        var neg = new List<ScoreRow> { Row(0, "n0", ("c", 1)) };
        Assert.Contains("no score column is present in every row", Assert.Throws<DejaException>(() => ScoreEvaluation.Evaluate(pos, neg)).Message);

        neg = [Row(0, "m0", ("a", 0.5)), Row(1, "n1", ("a", double.NaN))];
        var e = Assert.Throws<DejaException>(() => ScoreEvaluation.Evaluate(pos, neg));
        Assert.Contains("column \"a\" has 1 non-finite", e.Message);
        Assert.Contains("\"n1\"", e.Message);

        neg = [Row(0, "m0", ("a", 0.5))];
        var report = ScoreEvaluation.Evaluate(pos, neg, new ScoreEvaluationSettings { Options = new() { BootstrapResamples = 0 } });
        Assert.Contains(report.Warnings, w => w.Contains("more than once among the memorized"));
        Assert.Contains(report.Warnings, w => w.Contains("both memorized and non-memorized"));
        Assert.Throws<DejaException>(() => ScoreEvaluation.Evaluate(pos, []));
    }

    [Fact]
    public void JsonIsMachineReadable()
    {
        var (pos, neg) = Vector();
        var report = ScoreEvaluation.Evaluate(pos, neg, new ScoreEvaluationSettings { Options = new() { BootstrapResamples = 100, Seed = 4 } });
        using var doc = JsonDocument.Parse(ScoreEvaluationFormat.Json(report, new Dictionary<string, string> { ["positives"] = "mem.jsonl" }));
        var root = doc.RootElement;
        Assert.Equal("mem.jsonl", root.GetProperty("positives").GetString());
        Assert.Equal(4ul, root.GetProperty("seed").GetUInt64());
        var a = root.GetProperty("columns")[0];
        Assert.Equal("a", a.GetProperty("column").GetString());
        Assert.Equal(8.0 / 9, a.GetProperty("auc").GetProperty("value").GetDouble(), 12);
        Assert.True(a.GetProperty("auc").GetProperty("low").GetDouble() <= a.GetProperty("auc").GetProperty("high").GetDouble());
        Assert.Equal(2.0 / 3, a.GetProperty("tpr_at_1_last_below").GetProperty("value").GetDouble(), 12);
    }
}
