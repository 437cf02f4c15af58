using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Deja.Memorization.Evaluation;

/// <summary>Human (aligned table) and machine (JSON) renderings of a <see cref="ScoreEvaluationReport"/>.</summary>
public static class ScoreEvaluationFormat
{
    /// <summary>
    /// The headline columns (AUC, TPR at ≤ 1% and ≤ 3% FPR, ACC) with their intervals, then the
    /// reference codes' TPR definitions as point values, so the table stays readable; --json has them all.
    /// </summary>
    public static string Table(ScoreEvaluationReport report)
    {
        bool ci = report.Columns.Any(c => c.Result.Low is not null);
        string[] header = ["column", "n+/n−", "AUC", "TPR@1%FPR", "TPR@3%FPR", "ACC", "closest@1%", "closest@3%", "below@1%"];
        var rows = new List<string[]> { header };
        foreach (var c in report.Columns)
        {
            var r = c.Result;
            string Cell(Func<MetricSet, double> metric) =>
                N(metric(r.Point)) + (r.Low is { } lo && r.High is { } hi ? $" [{N(metric(lo))}, {N(metric(hi))}]" : "");
            rows.Add([
                c.Column + (r.Flipped ? " (flipped)" : ""),
                $"{r.Positives}/{r.Negatives}",
                Cell(m => m.Auc), Cell(m => m.TprAt1AtMost), Cell(m => m.TprAt3AtMost), Cell(m => m.BalancedAccuracy),
                N(r.Point.TprAt1Closest), N(r.Point.TprAt3Closest), N(r.Point.TprAt1LastBelow),
            ]);
        }
        var widths = Enumerable.Range(0, header.Length).Select(j => rows.Max(r => r[j].Length)).ToArray();
        var sb = new StringBuilder();
        foreach (var row in rows)
            sb.AppendLine(string.Join("  ", row.Select((cell, j) => cell.PadRight(widths[j]))).TrimEnd());

        sb.AppendLine();
        sb.AppendLine("TPR@1%FPR, TPR@3%FPR: TPR at the largest ROC FPR ≤ the target (never above it). ACC: best balanced accuracy (W).");
        sb.AppendLine("Reference definitions, point values (intervals in --json): closest@1%, closest@3% = ROC point closest to the");
        sb.AppendLine("target FPR, first on ties (J, A; may exceed the target, and reads 0 for a perfect detector); below@1% = last ROC point with FPR < 1% (W).");
        var o = report.Settings.Options;
        sb.AppendLine(ci
            ? $"[95% CI]: percentile bootstrap, {o.BootstrapResamples} stratified resamples, seed {o.Seed}."
            : "No confidence intervals (--bootstrap 0).");
        if (o.FlipIfBelowHalf) sb.AppendLine("--flip: a column with AUC < 0.5 has its labels flipped before the TPRs (J); marked \"(flipped)\".");
        if (report.Settings.BFloat16) sb.AppendLine("--bf16: scores rounded to bfloat16 before evaluation (J/A parity).");
        foreach (var (column, reason) in report.Skipped) sb.AppendLine($"skipped column {column}: {reason}");
        foreach (var w in report.Warnings) sb.AppendLine($"warning: {w}");
        return sb.ToString();
    }

    public static string Json(ScoreEvaluationReport report, IReadOnlyDictionary<string, string>? extra = null)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = ScoresFile.Encoder }))
        {
            var o = report.Settings.Options;
            w.WriteStartObject();
            if (extra is not null)
                foreach (var (k, v) in extra) w.WriteString(k, v);
            w.WriteNumber("bootstrap", o.BootstrapResamples);
            w.WriteNumber("seed", o.Seed);
            w.WriteNumber("confidence", o.Confidence);
            w.WriteBoolean("flip", o.FlipIfBelowHalf);
            w.WriteBoolean("bf16", report.Settings.BFloat16);
            w.WriteStartObject("definitions");
            for (int m = 0; m < MetricSet.Names.Length; m++) w.WriteString(MetricSet.Names[m], MetricSet.Definitions[m]);
            w.WriteEndObject();
            w.WriteStartArray("columns");
            foreach (var c in report.Columns)
            {
                var r = c.Result;
                w.WriteStartObject();
                w.WriteString("column", c.Column);
                w.WriteNumber("positives", r.Positives);
                w.WriteNumber("negatives", r.Negatives);
                w.WriteBoolean("flipped", r.Flipped);
                var point = r.Point.ToArray();
                var low = r.Low?.ToArray();
                var high = r.High?.ToArray();
                for (int m = 0; m < point.Length; m++)
                {
                    w.WriteStartObject(MetricSet.Names[m]);
                    w.WriteNumber("value", point[m]);
                    if (low is not null && high is not null) { w.WriteNumber("low", low[m]); w.WriteNumber("high", high[m]); }
                    w.WriteEndObject();
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("skipped");
            foreach (var (column, reason) in report.Skipped)
            {
                w.WriteStartObject();
                w.WriteString("column", column);
                w.WriteString("reason", reason);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("warnings");
            foreach (var s in report.Warnings) w.WriteStringValue(s);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    static string N(double v) => v.ToString("0.000", CultureInfo.InvariantCulture);
}
