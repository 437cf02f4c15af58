using System.Text;
using Deja.Memorization.Evaluation;

namespace Deja.Memorization.Reporting;

/// <summary>
/// Detection: with memorized and non-memorized score files, `deja eval`'s evaluation (the same
/// <see cref="ScoreEvaluation"/>, so the numbers equal eval's for the same options): the ROC curves (linear
/// and log FPR, <see cref="RocSvg"/>), the metrics table with bootstrap intervals, and per column the
/// score histogram of both groups with the threshold. Unlabelled score files add a third histogram group.
/// </summary>
static class DetectionSection
{
    public const string Memorized = "memorized", NonMemorized = "non-memorized", Scored = "scored (no label)";
    static readonly string[] Colours = ["#d62728", "#1f77b4", "#7f7f7f"];

    public static string Render(ReportInputs inputs, DecisionRule rule, ReportOptions options, out ScoreEvaluationReport? evaluation)
    {
        var sb = new StringBuilder();
        evaluation = null;
        IReadOnlyList<string> columns;
        if (inputs.HasLabels)
        {
            var settings = new ScoreEvaluationSettings { Columns = options.Columns, Options = options.Evaluation };
            evaluation = ScoreEvaluation.Evaluate([.. inputs.Positives.SelectMany(s => s.Rows)], [.. inputs.Negatives.SelectMany(s => s.Rows)], settings);
            columns = [.. evaluation.Columns.Select(c => c.Column)];
            sb.Append("<section id=\"roc\"><h2>ROC curves</h2>\n");
            sb.Append($"<p>{Html.Text(Files(inputs.Positives))} (memorized, {evaluation.Columns[0].Result.Positives} prompts) against " +
                      $"{Html.Text(Files(inputs.Negatives))} (non-memorized, {evaluation.Columns[0].Result.Negatives} prompts). " +
                      "Left: linear FPR; right: log FPR, where TPR@1%/3% FPR is read.</p>\n");
            sb.Append("<figure class=\"roc\">").Append(Html.InlineSvg(RocSvg.Render(
                [.. evaluation.Columns.Select(c => new RocSeries(c.Column, c.Result.Roc, c.Result.Point.Auc))]))).Append("</figure>\n</section>\n");
            sb.Append(MetricsTable(evaluation));
        }
        else
        {
            var common = CommonColumns(inputs.Scored.SelectMany(s => s.Rows));
            columns = options.Columns ?? common;
            if (columns.Count == 0) throw new Tensors.DejaException("report: the score files have no column present in every row");
            foreach (var c in columns)
                if (!common.Contains(c))
                    throw new Tensors.DejaException($"report: --columns: no column \"{c}\" in every row; the score files have: {string.Join(", ", common)}");
        }

        sb.Append("<section id=\"histograms\"><h2>Score histograms</h2>\n<p>");
        sb.Append(rule.Threshold is null ? Html.Text(rule.Source) + "." : $"Dashed line: the threshold, from {Html.Text(rule.Source)}.");
        sb.Append(" Bar heights are each group's share of its own prompts.</p>\n<div class=\"figures\">\n");
        foreach (var column in columns)
        {
            var groups = new List<HistogramGroup>();
            void Add(string name, IEnumerable<ScoreSource> sources, string colour)
            {
                var scores = sources.SelectMany(s => s.Rows).Where(r => r.Scores.ContainsKey(column)).Select(r => r.Scores[column]).Where(double.IsFinite).ToList();
                if (scores.Count > 0) groups.Add(new HistogramGroup(name, scores, colour));
            }
            Add(Memorized, inputs.Positives, Colours[0]);
            Add(NonMemorized, inputs.Negatives, Colours[1]);
            Add(Scored, inputs.Scored, Colours[2]);
            if (groups.Count == 0) continue;
            bool own = column == rule.Column && rule.Threshold is not null;
            sb.Append("<figure class=\"histogram\">")
              .Append(Html.InlineSvg(ScoreHistogramSvg.Render(column, groups, own ? rule.Threshold : null,
                  own ? $"threshold {Html.Number(rule.Threshold!.Value, "G4")}" : null, options.Bins)))
              .Append("</figure>\n");
        }
        sb.Append("</div>\n</section>\n");
        return sb.ToString();
    }

    /// <summary>`deja eval`'s table: the headline metrics with their 95 % intervals, then the reference definitions as points.</summary>
    static string MetricsTable(ScoreEvaluationReport report)
    {
        var sb = new StringBuilder("<section id=\"metrics\"><h2>Detection metrics</h2>\n<table class=\"metrics\">\n<thead><tr>");
        foreach (var h in new[] { "column", "n+/n−", "AUC", "TPR@1%FPR", "TPR@3%FPR", "ACC", "closest@1%", "closest@3%", "below@1%" })
            sb.Append("<th>").Append(Html.Text(h)).Append("</th>");
        sb.Append("</tr></thead>\n<tbody>\n");
        foreach (var c in report.Columns)
        {
            var r = c.Result;
            string Cell(Func<MetricSet, double> m) => Html.Number(m(r.Point)) +
                (r.Low is { } lo && r.High is { } hi ? $" <span class=\"ci\">[{Html.Number(m(lo))}, {Html.Number(m(hi))}]</span>" : "");
            sb.Append($"<tr data-column=\"{Html.Text(c.Column)}\"><td>{Html.Text(c.Column)}{(r.Flipped ? " (flipped)" : "")}</td><td>{r.Positives}/{r.Negatives}</td>" +
                      $"<td>{Cell(m => m.Auc)}</td><td>{Cell(m => m.TprAt1AtMost)}</td><td>{Cell(m => m.TprAt3AtMost)}</td><td>{Cell(m => m.BalancedAccuracy)}</td>" +
                      $"<td>{Html.Number(r.Point.TprAt1Closest)}</td><td>{Html.Number(r.Point.TprAt3Closest)}</td><td>{Html.Number(r.Point.TprAt1LastBelow)}</td></tr>\n");
        }
        sb.Append("</tbody></table>\n<p class=\"note\">TPR@1%FPR, TPR@3%FPR: TPR at the largest ROC FPR ≤ the target (never above it). " +
                  "ACC: best balanced accuracy (Wen et al.). closest@1%/3%: the ROC point closest to the target FPR, first on ties (Jeon et al., Asthana &amp; Belagiannis; " +
                  "may exceed the target). below@1%: the last ROC point with FPR &lt; 1% (Wen et al.). ");
        var o = report.Settings.Options;
        sb.Append(report.Columns.Any(c => c.Result.Low is not null)
            ? $"[95% CI]: percentile bootstrap, {o.BootstrapResamples} stratified resamples, seed {o.Seed}.</p>\n"
            : "No confidence intervals (--bootstrap 0).</p>\n");
        foreach (var (column, reason) in report.Skipped) sb.Append($"<p class=\"note\">skipped column {Html.Text(column)}: {Html.Text(reason)}</p>\n");
        foreach (var w in report.Warnings) sb.Append($"<p class=\"warning\">warning: {Html.Text(w)}</p>\n");
        return sb.Append("</section>\n").ToString();
    }

    static string Files(IEnumerable<ScoreSource> sources) => string.Join(", ", sources.Select(s => Path.GetFileName(s.Path)));

    static List<string> CommonColumns(IEnumerable<ScoreRow> rows)
    {
        var list = rows.ToList();
        return list.Count == 0 ? [] : [.. list[0].Scores.Keys.Where(k => list.All(r => r.Scores.ContainsKey(k)))];
    }
}
