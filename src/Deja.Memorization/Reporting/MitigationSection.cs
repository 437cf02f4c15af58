using System.Text;

namespace Deja.Memorization.Reporting;

/// <summary>
/// Mitigation: per mitigate folder the detector's mean score before and after, then per prompt the
/// generations side by side — the `--method none` folder (the unmitigated generations, same seeds) first
/// as "before", then each method's images. Prompts are matched by their text, generations by number.
/// </summary>
static class MitigationSection
{
    const int ImageWidth = 96;

    public static string Render(IReadOnlyList<MitigationFolder> folders, int maxPrompts)
    {
        // The unmitigated run goes first: it is the "before" column.
        var ordered = folders.OrderBy(f => f.Method == "none" ? 0 : 1).ToList();
        var sb = new StringBuilder("<section id=\"mitigate\"><h2>Mitigation: before and after</h2>\n");
        sb.Append(ordered[0].Method == "none"
            ? "<p>First column: the generations without mitigation (<code>--method none</code>, the same seeds); then each method's.</p>\n"
            : "<p>No <code>--method none</code> folder was given, so there are no unmitigated images to compare with; each image's detector score before and after is shown.</p>\n");
        sb.Append("<table class=\"mitigation-summary\"><thead><tr><th>folder</th><th>method</th><th>prompts</th><th>images</th>" +
                  "<th>mean score before</th><th>mean score after</th></tr></thead><tbody>\n");
        foreach (var f in ordered)
        {
            var before = f.Images.Where(i => i.ScoreBefore is not null).Select(i => i.ScoreBefore!.Value).ToList();
            var after = f.Images.Where(i => i.ScoreAfter is not null).Select(i => i.ScoreAfter!.Value).ToList();
            sb.Append($"<tr><td>{Html.Text(Name(f))}</td><td>{Html.Text(f.Method)}</td><td>{f.Images.Select(i => i.Prompt).Distinct().Count()}</td><td>{f.Images.Count}</td>" +
                      $"<td>{(before.Count > 0 ? Html.Number(before.Average()) : "—")}</td><td>{(after.Count > 0 ? Html.Number(after.Average()) : "—")}</td></tr>\n");
        }
        sb.Append("</tbody></table>\n");

        var prompts = ordered.SelectMany(f => f.Images.OrderBy(i => i.Index).Select(i => i.Prompt)).Distinct().ToList();
        var shown = prompts.Take(maxPrompts).ToList();
        if (prompts.Count > shown.Count) sb.Append($"<p class=\"note\">The first {shown.Count} of {prompts.Count} prompts (--max-prompts).</p>\n");
        sb.Append("<table class=\"mitigation\"><thead><tr><th>prompt</th>");
        foreach (var f in ordered) sb.Append($"<th>{Html.Text(f.Method == "none" ? "before (none)" : f.Method)}<br><span class=\"note\">{Html.Text(Name(f))}</span></th>");
        sb.Append("</tr></thead><tbody>\n");
        foreach (var prompt in shown)
        {
            sb.Append($"<tr><td class=\"prompt\">{Html.Text(prompt)}</td>");
            foreach (var f in ordered)
            {
                var images = f.Images.Where(i => i.Prompt == prompt).OrderBy(i => i.Generation).ToList();
                sb.Append("<td>");
                if (images.Count == 0) sb.Append("<span class=\"note\">not in this run</span>");
                foreach (var image in images)
                {
                    string score = image.ScoreAfter is { } a ? Html.Number(a, "0.00") : "—";
                    string title = $"generation {image.Generation}, seed {image.Seed}: score {(image.ScoreBefore is { } b ? Html.Number(b, "0.000") : "—")} → {score}";
                    sb.Append("<figure class=\"generation\">")
                      .Append(Html.PngImage(ReportFiles.ReadBytes(image.ImagePath), $"{f.Method}, generation {image.Generation}", ImageWidth, title))
                      .Append($"<figcaption>{score}</figcaption></figure>");
                }
                var changed = images.Select(i => i.ChangedPrompt).FirstOrDefault(c => c is not null);
                if (changed is not null) sb.Append($"<div class=\"changed\">prompt used: {Html.Text(changed)}</div>");
                sb.Append("</td>");
            }
            sb.Append("</tr>\n");
        }
        return sb.Append("</tbody></table>\n</section>\n").ToString();
    }

    static string Name(MitigationFolder f) => Path.GetFileName(Path.TrimEndingDirectorySeparator(f.Path));
}
