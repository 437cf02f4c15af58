using System.Text.Json.Nodes;
using Deja.Memorization.Evaluation;

namespace Deja.Memorization.Reporting;

/// <summary>
/// The column prompts are ranked by and the threshold that flags them (flagged ⇔ score &gt; threshold, as
/// <see cref="Detection.Calibration"/>): from the calibration when one is given; else from the rows, when
/// `deja detect --calibration` flagged all of them with one threshold; else the first score column and no threshold.
/// </summary>
public sealed record DecisionRule(string Column, double? Threshold, string Source)
{
    public bool IsFlagged(double score) => Threshold is { } t && score > t;

    public static DecisionRule For(ReportInputs inputs)
    {
        if (inputs.Calibration is { } c)
            return new DecisionRule(c.Column, c.Threshold,
                $"calibration {Path.GetFileName(c.Path ?? "")}: flagged ⇔ {c.Column} > {Html.Number(c.Threshold, "G6")} " +
                $"(target FPR {Html.Number(c.TargetFpr, "0.###")}, achieved {Html.Number(c.AchievedFpr, "0.###")} on {c.Negatives} known non-memorized prompts)");
        var rows = inputs.AllScores.SelectMany(s => s.Rows).ToList();
        var marks = rows.Select(r => JsonNode.Parse(r.ExtraJson) as JsonObject)
            .Select(o => (Column: (string?)o?["threshold_column"], Threshold: o?["threshold"] is JsonValue v && v.TryGetValue(out double t) ? t : (double?)null))
            .Distinct().ToList();
        if (rows.Count > 0 && marks.Count == 1 && marks[0].Column is { } col && marks[0].Threshold is { } th)
            return new DecisionRule(col, th, $"the score rows (deja detect --calibration): flagged ⇔ {col} > {Html.Number(th, "G6")}");
        string first = rows.Count > 0 ? rows[0].Scores.Keys.FirstOrDefault() ?? "" : "";
        return new DecisionRule(first, null, "no calibration given (deja calibrate; --calibration FILE): no threshold");
    }
}
