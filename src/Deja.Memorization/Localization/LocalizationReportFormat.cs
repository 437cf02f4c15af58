using System.Globalization;
using System.Text;
using System.Text.Json;
using Deja.Memorization.Evaluation;

namespace Deja.Memorization.Localization;

/// <summary>Human (one aligned table per set) and machine (one JSON document) renderings of a <see cref="LocalizationReport"/>.</summary>
public static class LocalizationReportFormat
{
    /// <summary>What each reported quantity is, written into the JSON so a reader needs no other document.</summary>
    public static readonly (string Name, string Definition)[] Definitions =
    [
        ("resize", "each map resized to the mask resolution with PIL's float32 bilinear resize (triangle filter over pixel centres, edge taps renormalised; widened by the scale when downsampling)"),
        ("normalisation", "L = log(1 + map); n = clip((L - min) / (max - min + 1e-8), 0, 1) with min and max over all maps of the evaluated set, per map (Kim & Lee)"),
        ("thresholds", "numpy.linspace(-1e-6, 1 + 1e-6, 101); pred = n > threshold, gt = mask > 0.5"),
        ("iou", "global IoU: sum of intersections / sum of unions over the samples (1 when 0/0)"),
        ("miou", "mean over samples of the per-sample IoU (1 when the union is empty)"),
        ("accuracy", "pixel accuracy over all pixels of all samples"),
        ("oracle", "each metric's maximum over the 101 thresholds, chosen independently on the evaluated set itself (Kim & Lee's report; optimistic)"),
        ("heldout_threshold", "per metric, the threshold maximising it on half A of a seeded, stratified 50% split of the prompts, scored on half B; normalisation from the whole set"),
        ("pixel_auc", "ROC-AUC over all pixels of the set, score n, label gt (sklearn roc_auc_score: ties count one half)"),
        ("pixel_ap", "average precision over all pixels of the set (sklearn average_precision_score: step-wise, no interpolation)"),
        ("ci", "percentile bootstrap interval over prompts, resampled with replacement within their ground-truth kind; oracle metrics re-take the maximum per resample; held-out metrics resample half B at the chosen threshold"),
        ("all_ones", "baseline: the constant map 1 at mask resolution, evaluated like every map"),
    ];

    public static string Table(LocalizationReport report, IReadOnlyList<(string Name, int Count, string Description)>? skipped = null, IReadOnlyList<string>? notes = null)
    {
        var sb = new StringBuilder();
        bool ci = report.Options.BootstrapResamples > 0;
        foreach (var set in report.Sets)
        {
            long pixels = set.PositivePixels + set.NegativePixels;
            sb.AppendLine($"{set.Label}: {set.Samples} samples from {set.Prompts} prompts, masks {report.MaskWidth}×{report.MaskHeight}" +
                          (pixels > 0 ? $", {N(100.0 * set.PositivePixels / pixels, "0.0")}% positive pixels" : ""));
            if (set.Samples == 0) { sb.AppendLine("  no samples: nothing to evaluate in this set"); sb.AppendLine(); continue; }
            string[] header = ["map", "oracle IoU", "oracle mIoU", "oracle acc", "held-out IoU", "held-out mIoU", "held-out acc", "pixel AUC", "pixel AP"];
            var rows = new List<string[]> { header };
            foreach (var m in set.Maps)
            {
                string label = m.Baseline ? $"{m.Map} (baseline)" : m.Map;
                if (m.Oracle is null) { rows.Add([label, "—", "—", "—", "—", "—", "—", "—", "—"]); continue; }
                rows.Add([
                    label,
                    Cell(m.Oracle.Iou), Cell(m.Oracle.MIou), Cell(m.Oracle.Accuracy),
                    Point(m.HeldOut?.Metrics.Iou), Point(m.HeldOut?.Metrics.MIou), Point(m.HeldOut?.Metrics.Accuracy),
                    Cell(m.PixelAuc), Cell(m.PixelAp),
                ]);
            }
            var widths = Enumerable.Range(0, header.Length).Select(j => rows.Max(r => r[j].Length)).ToArray();
            foreach (var row in rows)
                sb.AppendLine("  " + string.Join("  ", row.Select((cell, j) => cell.PadRight(widths[j]))).TrimEnd());
            foreach (var m in set.Maps)
                foreach (var note in m.Notes) sb.AppendLine($"  {m.Map}: {note}");
            sb.AppendLine();
        }
        sb.AppendLine("oracle: each metric's maximum over 101 thresholds, chosen on the evaluated set itself (Kim & Lee's protocol; optimistic).");
        sb.AppendLine($"held-out: threshold chosen per metric on half of the prompts (split seed {report.Options.SplitSeed}), scored on the other half{(ci ? " (intervals in --json)" : "")}.");
        sb.AppendLine("pixel AUC / AP: over all pixels of the set, scored by the normalised map. Each set is normalised on its own.");
        sb.AppendLine(ci
            ? $"[{N(report.Options.Confidence * 100, "0")}% CI]: percentile bootstrap over prompts, {report.Options.BootstrapResamples} resamples stratified by ground-truth kind, seed {report.Options.Seed}."
            : "No confidence intervals (--bootstrap 0).");
        foreach (var (_, count, description) in skipped ?? [])
            if (count > 0) sb.AppendLine($"left out: {count} {description}");
        foreach (var note in notes ?? []) sb.AppendLine(note);
        return sb.ToString();
    }

    static string Cell(Estimate? e) =>
        e is null ? "—" : N(e.Value) + (e.Low is { } lo && e.High is { } hi ? $" [{N(lo)}, {N(hi)}]" : "");

    static string Point(Estimate? e) => e is null ? "—" : N(e.Value);

    static string N(double v, string format = "0.000") => double.IsNaN(v) ? "nan" : v.ToString(format, CultureInfo.InvariantCulture);

    /// <summary>The whole report as one indented JSON document; <paramref name="inputs"/> (name → path) come first.</summary>
    public static string Json(LocalizationReport report, IReadOnlyDictionary<string, string> inputs,
                              IReadOnlyList<(string Name, int Count, string Description)> skipped, IReadOnlyList<string> notes)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = ScoresFile.Encoder }))
        {
            var o = report.Options;
            w.WriteStartObject();
            w.WriteString("command", "eval-localize");
            foreach (var (k, v) in inputs) w.WriteString(k, v);
            w.WriteNumber("mask_height", report.MaskHeight);
            w.WriteNumber("mask_width", report.MaskWidth);
            w.WriteNumber("bootstrap", o.BootstrapResamples);
            w.WriteNumber("seed", o.Seed);
            w.WriteNumber("split_seed", o.SplitSeed);
            w.WriteNumber("confidence", o.Confidence);
            w.WriteStartObject("definitions");
            foreach (var (name, definition) in Definitions) w.WriteString(name, definition);
            w.WriteEndObject();
            w.WriteStartArray("thresholds");
            foreach (var t in ThresholdScan.Thresholds) w.WriteNumberValue(t);
            w.WriteEndArray();
            w.WriteStartObject("skipped");
            foreach (var (name, count, _) in skipped) w.WriteNumber(name, count);
            w.WriteEndObject();
            w.WriteStartArray("notes");
            foreach (var n in notes) w.WriteStringValue(n);
            w.WriteEndArray();
            w.WriteStartObject("sets");
            foreach (var set in report.Sets)
            {
                w.WriteStartObject(set.Name);
                w.WriteString("label", set.Label);
                w.WriteNumber("n_samples", set.Samples);
                w.WriteNumber("n_prompts", set.Prompts);
                w.WriteNumber("positive_pixels", set.PositivePixels);
                w.WriteNumber("negative_pixels", set.NegativePixels);
                w.WriteStartObject("maps");
                foreach (var m in set.Maps) WriteMap(w, m);
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    static void WriteMap(Utf8JsonWriter w, MapEvaluation m)
    {
        w.WriteStartObject(m.Map);
        w.WriteBoolean("baseline", m.Baseline);
        w.WriteNumber("n_samples", m.Samples);
        w.WriteNumber("n_prompts", m.Prompts);
        w.WriteNumber("skipped_non_finite", m.SkippedNonFinite);
        w.WriteNumber("positive_pixels", m.PositivePixels);
        w.WriteNumber("negative_pixels", m.NegativePixels);
        w.WriteStartObject("normalisation");
        Number(w, "min", m.NormalisationMin);
        Number(w, "max", m.NormalisationMax);
        w.WriteEndObject();
        if (m.Oracle is null) w.WriteNull("oracle");
        else
        {
            w.WriteStartObject("oracle");
            for (int i = 0; i < ThresholdMetrics.Names.Length; i++) WriteEstimate(w, ThresholdMetrics.Names[i], m.Oracle[i]);
            w.WriteStartObject("curves");
            WriteCurve(w, "iou", m.Curves!.Iou);
            WriteCurve(w, "miou", m.Curves.MIou);
            WriteCurve(w, "accuracy", m.Curves.Accuracy);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        if (m.HeldOut is null) w.WriteNull("heldout_threshold");
        else
        {
            w.WriteStartObject("heldout_threshold");
            w.WriteNumber("prompts_a", m.HeldOut.PromptsA);
            w.WriteNumber("prompts_b", m.HeldOut.PromptsB);
            for (int i = 0; i < ThresholdMetrics.Names.Length; i++) WriteEstimate(w, ThresholdMetrics.Names[i], m.HeldOut.Metrics[i]);
            w.WriteEndObject();
        }
        WriteEstimate(w, "pixel_auc", m.PixelAuc);
        WriteEstimate(w, "pixel_ap", m.PixelAp);
        w.WriteStartArray("notes");
        foreach (var n in m.Notes) w.WriteStringValue(n);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>{value, threshold (threshold metrics), ci: [low, high] or null}; null for an undefined metric.</summary>
    static void WriteEstimate(Utf8JsonWriter w, string name, Estimate? e)
    {
        if (e is null) { w.WriteNull(name); return; }
        w.WriteStartObject(name);
        Number(w, "value", e.Value);
        if (e.Threshold is { } t) w.WriteNumber("threshold", t);
        if (e.Low is { } lo && e.High is { } hi)
        {
            w.WriteStartArray("ci");
            w.WriteNumberValue(lo);
            w.WriteNumberValue(hi);
            w.WriteEndArray();
        }
        else w.WriteNull("ci");
        w.WriteEndObject();
    }

    static void WriteCurve(Utf8JsonWriter w, string name, double[] values)
    {
        w.WriteStartArray(name);
        foreach (var v in values) { if (double.IsFinite(v)) w.WriteNumberValue(v); else w.WriteNullValue(); }
        w.WriteEndArray();
    }

    /// <summary>JSON has no NaN: an undefined number is null.</summary>
    static void Number(Utf8JsonWriter w, string name, double v)
    {
        if (double.IsFinite(v)) w.WriteNumber(name, v); else w.WriteNull(name);
    }
}
