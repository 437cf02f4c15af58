using System.Text;

namespace Deja.Memorization.Reporting;

/// <summary>
/// Localization heatmaps: for each prompt of a localize folder (up to --max-prompts), every map over its
/// first generation, as localize drew it (<see cref="Localization.Heatmap"/>: the map blended over the image,
/// yellow = the map's maximum, with its colour bar), inlined as PNG.
/// </summary>
static class LocalizationSection
{
    public static string Render(IReadOnlyList<LocalizationFolder> folders, int maxPrompts)
    {
        var sb = new StringBuilder("<section id=\"localize\"><h2>Localization heatmaps</h2>\n" +
            "<p>Where in the generated image the copy sits: each map over the generation, dark = low, yellow = the map's maximum " +
            "(each map normalised on its own). The number under a map is its spatial mean.</p>\n");
        foreach (var folder in folders)
        {
            var prompts = folder.Prompts.Take(maxPrompts).ToList();
            sb.Append($"<h3>{Html.Text(Path.GetFileName(Path.TrimEndingDirectorySeparator(folder.Path)))}</h3>\n");
            if (folder.Prompts.Count > prompts.Count) sb.Append($"<p class=\"note\">The first {prompts.Count} of {folder.Prompts.Count} prompts (--max-prompts).</p>\n");
            sb.Append("<table class=\"heatmaps\"><thead><tr><th>prompt</th>");
            foreach (var map in folder.Maps) sb.Append($"<th>{Html.Text(map)}</th>");
            sb.Append("</tr></thead><tbody>\n");
            foreach (var p in prompts)
            {
                long? seed = p.Seeds.Count > 0 ? p.Seeds[0] : null;
                sb.Append($"<tr><td class=\"prompt\">[{p.Row.Index}] {Html.Text(p.Row.Prompt)}" +
                          (p.Kind is null ? "" : $"<br><span class=\"kind\">{Html.Text(p.Kind)}</span>") +
                          (seed is null ? "" : $"<br><span class=\"note\">seed {seed}</span>") + "</td>");
                foreach (var map in folder.Maps)
                {
                    bool overImage = true;
                    var png = seed is { } s ? folder.HeatmapPng(p.Row.Index, s, map, out overImage) : null;
                    string mean = p.Row.Scores.TryGetValue(map, out var m) ? Html.Number(m, "G4") : "—";
                    sb.Append("<td>").Append(png is null ? "<span class=\"note\">no map in the folder</span>"
                            : Html.PngImage(png, $"{map} for prompt {p.Row.Index}", 160, $"{map}, seed {seed}{(overImage ? "" : " (map alone: the run wrote no PNGs)")}"))
                      .Append($"<br><span class=\"note\">mean {mean}</span></td>");
                }
                sb.Append("</tr>\n");
            }
            sb.Append("</tbody></table>\n");
        }
        return sb.Append("</section>\n").ToString();
    }
}
