using System.Text;
using Deja.Memorization.Explanation;

namespace Deja.Memorization.Reporting;

/// <summary>Token significance (`deja explain --json`): the bar chart of <see cref="SignificanceSvg"/> and each prompt's top tokens.</summary>
static class ExplanationSection
{
    public static string Render(IReadOnlyList<ExplanationSource> sources, int maxPrompts)
    {
        var sb = new StringBuilder("<section id=\"explain\"><h2>Token significance</h2>\n" +
            "<p>Wen et al.'s token significance: how much each token drives the text-conditional noise prediction (higher = more of a trigger).</p>\n");
        foreach (var source in sources)
        {
            var rows = source.Rows.Take(maxPrompts).ToList();
            sb.Append($"<h3>{Html.Text(Path.GetFileName(source.Path))}</h3>\n");
            if (source.Rows.Count > rows.Count) sb.Append($"<p class=\"note\">The first {rows.Count} of {source.Rows.Count} prompts (--max-prompts).</p>\n");
            sb.Append("<table class=\"tokens\"><thead><tr><th>index</th><th>prompt</th><th>top tokens</th></tr></thead><tbody>\n");
            foreach (var r in rows)
                sb.Append($"<tr><td>{r.Index}</td><td class=\"prompt\">{Html.Text(r.Prompt)}</td><td>" +
                          string.Join(", ", r.Top(3).Select(t => $"{Html.Text(t.Token)} {Html.Number(t.Significance)}")) + "</td></tr>\n");
            sb.Append("</tbody></table>\n<figure class=\"significance\">").Append(Html.InlineSvg(SignificanceSvg.Render(rows))).Append("</figure>\n");
        }
        return sb.Append("</section>\n").ToString();
    }
}
