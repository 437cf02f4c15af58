using System.Text;

namespace Deja.Memorization.Reporting;

/// <summary>
/// The prompts with the highest decision score across every score file, with their label (when the
/// file had one), whether the threshold flags them and where they came from: the list a reviewer reads first.
/// </summary>
static class TopPromptsSection
{
    public static string Render(ReportInputs inputs, DecisionRule rule, int top)
    {
        var rows = inputs.Positives.SelectMany(s => s.Rows.Select(r => (Row: r, Label: DetectionSection.Memorized, s.Path)))
            .Concat(inputs.Negatives.SelectMany(s => s.Rows.Select(r => (Row: r, Label: DetectionSection.NonMemorized, s.Path))))
            .Concat(inputs.Scored.SelectMany(s => s.Rows.Select(r => (Row: r, Label: "—", s.Path))))
            .Where(x => x.Row.Scores.TryGetValue(rule.Column, out var v) && double.IsFinite(v))
            .OrderByDescending(x => x.Row.Scores[rule.Column]).ThenBy(x => x.Path, StringComparer.Ordinal).ThenBy(x => x.Row.Index)
            .ToList();
        var sb = new StringBuilder("<section id=\"top\"><h2>Top-scored prompts</h2>\n<p>");
        if (rule.Threshold is { } t)
        {
            int flagged = rows.Count(x => rule.IsFlagged(x.Row.Scores[rule.Column]));
            sb.Append($"<strong>{flagged}</strong> of {rows.Count} prompts flagged ({Html.Text(rule.Column)} &gt; {Html.Number(t, "G6")}). ");
        }
        sb.Append($"The {Math.Min(top, rows.Count)} highest {Html.Text(rule.Column)} scores of {rows.Count} prompts. Ranking rule: {Html.Text(rule.Source)}.</p>\n");
        sb.Append("<table class=\"top\">\n<thead><tr><th>#</th><th>score</th><th>flagged</th><th>label</th><th>prompt</th><th>file, index</th></tr></thead>\n<tbody>\n");
        int rank = 0;
        foreach (var (row, label, path) in rows.Take(top))
        {
            double score = row.Scores[rule.Column];
            string flag = rule.Threshold is null ? "—" : rule.IsFlagged(score) ? "<span class=\"flag\">yes</span>" : "no";
            sb.Append($"<tr><td>{++rank}</td><td>{Html.Number(score, "0.0000")}</td><td>{flag}</td><td>{Html.Text(label)}</td>" +
                      $"<td class=\"prompt\">{Html.Text(row.Prompt)}{(row.Truncated ? " <em>(truncated to 77 tokens)</em>" : "")}</td>" +
                      $"<td>{Html.Text(Path.GetFileName(path))}, {row.Index}</td></tr>\n");
        }
        return sb.Append("</tbody></table>\n</section>\n").ToString();
    }
}
