using System.Text;
using Deja.Tensors;

namespace Deja.Memorization.Reporting;

/// <summary>
/// `deja report`: one self-contained HTML file from detect, eval, explain, localize and mitigate outputs.
/// Every figure is inline (SVG, or PNG as a data: URI) and the page has no script and no external
/// reference; its Content-Security-Policy forbids any load but inline styles and data: images, so it opens
/// offline and can be mailed or archived as one file. It records the Deja version that made it. The
/// output is a function of the inputs and options only (no clock), so the same inputs give the same bytes.
/// Sections appear for the inputs given: detection (ROC, metrics, histograms, top prompts) for score
/// files, token significance for explain files, heatmaps for localize folders, before/after images for
/// mitigate folders.
/// </summary>
public static class HtmlReport
{
    /// <summary>No network, no script: only inline styles and data: images may load.</summary>
    public const string ContentSecurityPolicy = "default-src 'none'; img-src data:; style-src 'unsafe-inline'";

    public static string Render(ReportInputs inputs, ReportOptions options)
    {
        options.Validate();
        // The body, section by section, and the table of contents (a section may hold several headed parts).
        var body = new StringBuilder();
        var contents = new List<(string Id, string Title)>();
        if (inputs.AllScores.Any())
        {
            var rule = DecisionRule.For(inputs);
            body.Append(DetectionSection.Render(inputs, rule, options, out _));
            if (inputs.HasLabels) contents.AddRange([("roc", "ROC curves"), ("metrics", "Detection metrics")]);
            contents.Add(("histograms", "Score histograms"));
            if (options.Top > 0)
            {
                body.Append(TopPromptsSection.Render(inputs, rule, options.Top));
                contents.Add(("top", "Top-scored prompts"));
            }
        }
        if (inputs.Explanations.Count > 0)
        {
            body.Append(ExplanationSection.Render(inputs.Explanations, options.MaxPrompts));
            contents.Add(("explain", "Token significance"));
        }
        if (inputs.Localizations.Count > 0)
        {
            body.Append(LocalizationSection.Render(inputs.Localizations, options.MaxPrompts));
            contents.Add(("localize", "Localization heatmaps"));
        }
        if (inputs.Mitigations.Count > 0)
        {
            body.Append(MitigationSection.Render(inputs.Mitigations, options.MaxPrompts));
            contents.Add(("mitigate", "Mitigation: before and after"));
        }

        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
          .Append($"<meta http-equiv=\"Content-Security-Policy\" content=\"{ContentSecurityPolicy}\">\n")
          .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
          .Append($"<meta name=\"generator\" content=\"Deja {Html.Text(DejaVersion.Text)}\">\n")
          .Append($"<title>{Html.Text(options.Title)}</title>\n<style>{Css}</style>\n</head>\n<body>\n")
          .Append($"<header><h1>{Html.Text(options.Title)}</h1>\n")
          .Append($"<p class=\"version\">Made by Deja <span id=\"deja-version\">{Html.Text(DejaVersion.Text)}</span>.</p>\n")
          .Append(Inputs(inputs));
        foreach (var w in inputs.Warnings) sb.Append($"<p class=\"warning\">warning: {Html.Text(w)}</p>\n");
        sb.Append("<nav><ul>");
        foreach (var (id, title) in contents) sb.Append($"<li><a href=\"#{id}\">{Html.Text(title)}</a></li>");
        sb.Append("</ul></nav>\n</header>\n<main>\n").Append(body);
        sb.Append("</main>\n<footer><p>Deja ").Append(Html.Text(DejaVersion.Text))
          .Append(" — self-contained report: no scripts, no network; figures are inline SVG and PNG.</p></footer>\n</body>\n</html>\n");
        return sb.ToString();
    }

    /// <summary>Renders and writes atomically (a reader never sees half a report).</summary>
    public static void Write(string path, ReportInputs inputs, ReportOptions options) => AtomicFile.WriteAllText(path, Render(inputs, options));

    static string Inputs(ReportInputs inputs)
    {
        var items = new List<string>();
        foreach (var s in inputs.Positives) items.Add($"memorized (positives): {Html.Text(s.Path)} — {s.Rows.Count} prompts, {Model(s)}");
        foreach (var s in inputs.Negatives) items.Add($"non-memorized (negatives): {Html.Text(s.Path)} — {s.Rows.Count} prompts, {Model(s)}");
        foreach (var s in inputs.Scored) items.Add($"scores: {Html.Text(s.Path)} — {s.Rows.Count} prompts, {Model(s)}");
        if (inputs.Calibration is { } c) items.Add($"calibration: {Html.Text(c.Path ?? "")} — {Html.Text(c.Column)} &gt; {Html.Number(c.Threshold, "G6")}");
        foreach (var e in inputs.Explanations) items.Add($"token significance: {Html.Text(e.Path)} — {e.Rows.Count} prompts");
        foreach (var l in inputs.Localizations) items.Add($"localization: {Html.Text(l.Path)} — {l.Prompts.Count} prompts, maps {Html.Text(string.Join(", ", l.Maps))}");
        foreach (var m in inputs.Mitigations) items.Add($"mitigation: {Html.Text(m.Path)} — method {Html.Text(m.Method)}, {m.Images.Count} images");
        return "<details class=\"inputs\" open><summary>Inputs</summary><ul>" + string.Concat(items.Select(i => $"<li>{i}</li>")) + "</ul></details>\n";
    }

    static string Model(Evaluation.ScoreSource s)
    {
        var row = s.Rows[0];
        string name = Evaluation.JsonText.StringMember(row.ModelJson, "name") ?? "?";
        return $"method {Html.Text(row.Method)}, model {Html.Text(name)} (id {Html.Text(row.ModelId)})";
    }

    const string Css = """
        body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px; padding: 0 1em; color: #222; }
        h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 1.6em; }
        .version, .note { color: #666; font-size: 0.9em; }
        .warning { color: #a40; }
        nav ul { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 1em; }
        table { border-collapse: collapse; margin: 0.6em 0; }
        th, td { border: 1px solid #ddd; padding: 0.3em 0.5em; vertical-align: top; text-align: left; }
        thead th { background: #f3f3f3; }
        td.prompt { min-width: 14em; max-width: 32em; overflow-wrap: anywhere; }
        table.heatmaps, table.mitigation { display: block; overflow-x: auto; max-width: 100%; }
        table.mitigation td { white-space: nowrap; } table.mitigation td.prompt, .changed { white-space: normal; }
        .ci { color: #666; font-size: 0.85em; white-space: nowrap; }
        .flag { color: #b00; font-weight: bold; }
        .figures { display: flex; flex-wrap: wrap; gap: 1em; }
        figure { margin: 0.4em 0; overflow-x: auto; }
        figure.generation { display: inline-block; margin: 0 0.3em 0.3em 0; text-align: center; }
        figure.generation figcaption { font-size: 0.8em; color: #444; }
        img { image-rendering: pixelated; border: 1px solid #ccc; }
        .kind { font-size: 0.85em; color: #555; }
        .changed { font-size: 0.8em; color: #555; max-width: 30em; }
        """;
}
