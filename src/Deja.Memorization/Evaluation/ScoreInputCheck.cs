using System.Security.Cryptography;
using System.Text.Json.Nodes;

namespace Deja.Memorization.Evaluation;

/// <summary>One score file given to <c>deja eval</c>: its path, rows and a hash of its bytes.</summary>
public sealed record ScoreSource(string Path, IReadOnlyList<ScoreRow> Rows, string ContentHash)
{
    public static ScoreSource Read(string path, out long ignoredTrailingBytes)
    {
        var rows = ScoresFile.Read(path, out ignoredTrailingBytes);
        return new ScoreSource(path, rows, Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path))));
    }
}

/// <summary>
/// What makes an evaluation of memorized vs non-memorized score files meaningless even though every
/// row parses: rows scored by different models, methods or parameters (a perfect AUC that measures the
/// difference between two models, not memorization), the same file on both sides, or one file given
/// twice. Each problem is one line naming the files and the difference.
/// </summary>
public static class ScoreInputCheck
{
    public static IReadOnlyList<string> Problems(IReadOnlyList<ScoreSource> positives, IReadOnlyList<ScoreSource> negatives)
    {
        var problems = new List<string>();
        var sources = positives.Select(s => (Source: s, Side: "positives")).Concat(negatives.Select(s => (Source: s, Side: "negatives"))).ToList();
        problems.AddRange(RepeatedFiles(sources));
        if (DifferentRuns(sources) is { } difference) problems.Add(difference);
        return problems;
    }

    /// <summary>The same path, or the same bytes under another name, given more than once.</summary>
    static IEnumerable<string> RepeatedFiles(List<(ScoreSource Source, string Side)> sources)
    {
        for (int j = 1; j < sources.Count; j++)
            for (int i = 0; i < j; i++)
            {
                var (a, b) = (sources[i], sources[j]);
                bool samePath = System.IO.Path.GetFullPath(a.Source.Path) == System.IO.Path.GetFullPath(b.Source.Path);
                if (!samePath && a.Source.ContentHash != b.Source.ContentHash) continue;
                string what = samePath ? "is given" : $"and {b.Source.Path} have the same content, given";
                yield return a.Side == b.Side
                    ? $"{a.Source.Path} {what} twice among the {a.Side}"
                    : $"{a.Source.Path} {what} as both positives and negatives";
                break;
            }
    }

    /// <summary>The first row whose model id, method or parameters differ from the first row's, described.</summary>
    static string? DifferentRuns(List<(ScoreSource Source, string Side)> sources)
    {
        var rows = sources.SelectMany(s => s.Source.Rows.Select(r => (s.Source, s.Side, Row: r))).ToList();
        if (rows.Count == 0) return null;
        var first = rows[0];
        string firstParams = ComparableParams(first.Row.ParamsJson);
        foreach (var other in rows.Skip(1))
            if (RunDifference(first.Row, firstParams, other.Row) is { } difference)
                return $"{first.Source.Path} ({first.Side}) and {other.Source.Path} ({other.Side}) were scored {difference}";
        return null;
    }

    /// <summary>
    /// One score file's rows must all come from one run (model, method, parameters), e.g. the negatives a
    /// threshold is calibrated on: the first row that differs from the first row, described with its index
    /// and prompt ("scores.jsonl mixes rows scored by different models: …"), or null when all agree.
    /// </summary>
    public static string? MixedRuns(string path, IReadOnlyList<ScoreRow> rows)
    {
        if (rows.Count == 0) return null;
        string firstParams = ComparableParams(rows[0].ParamsJson);
        foreach (var other in rows.Skip(1))
            if (RunDifference(rows[0], firstParams, other) is { } difference)
                return $"{path} mixes rows scored {difference}: prompt {rows[0].Index} (\"{ScoreEvaluation.Shorten(rows[0].Prompt)}\") " +
                    $"and prompt {other.Index} (\"{ScoreEvaluation.Shorten(other.Prompt)}\"); score each run into its own file";
        return null;
    }

    /// <summary>
    /// The parts of one sharded run (<c>deja merge</c>) must come from exactly one run: the first row, in
    /// any file, whose model, method or parameters differ from the first row's, described with both files
    /// and prompts; null when all agree. Stricter than <see cref="Problems"/>: the shards of one run read
    /// one noise file, so a per-prompt noise file must be the same file too.
    /// </summary>
    public static string? MixedParts(IReadOnlyList<ScoreSource> parts)
    {
        var rows = parts.SelectMany(s => s.Rows.Select(r => (s.Path, Row: r))).ToList();
        if (rows.Count == 0) return null;
        var first = rows[0];
        string firstParams = JsonText.Canonical(first.Row.ParamsJson, "params");
        foreach (var other in rows.Skip(1))
            if (RunDifference(first.Row, firstParams, other.Row, strict: true) is { } difference)
                return $"{first.Path} (prompt {first.Row.Index}) and {other.Path} (prompt {other.Row.Index}) were scored {difference}";
        return null;
    }

    /// <summary>"by different models: …", "with different methods: …" or "with different parameters (…)"; null for rows of one run.
    /// <paramref name="strict"/>: compare the whole parameters (<paramref name="firstParams"/> canonical), not <see cref="ComparableParams"/>.</summary>
    static string? RunDifference(ScoreRow first, string firstParams, ScoreRow other, bool strict = false)
    {
        if (other.ModelId != first.ModelId)
            return $"by different models: {Model(first)} vs {Model(other)}";
        if (other.Method != first.Method)
            return $"with different methods: \"{first.Method}\" vs \"{other.Method}\"";
        string otherParams = strict ? JsonText.Canonical(other.ParamsJson, "params") : ComparableParams(other.ParamsJson);
        return otherParams != firstParams ? $"with different parameters ({JsonText.FirstDifference(firstParams, otherParams)})" : null;
    }

    public static string Model(ScoreRow row)
    {
        if (row.ModelId.Length == 0) return "(no model recorded)";
        return JsonText.StringMember(row.ModelJson, "name") is { } name ? $"{name} (id {row.ModelId})" : $"id {row.ModelId}";
    }

    /// <summary>
    /// Canonical parameters, without what legitimately differs between two prompt lists scored by one
    /// run (the two sides of an evaluation, or a calibration's negatives and the prompts it screens): a
    /// per-prompt noise file holds one row per prompt, so each prompt list has its own file.
    /// </summary>
    internal static string ComparableParams(string paramsJson)
    {
        var node = JsonNode.Parse(paramsJson) as JsonObject;
        if (node?["noise"] is JsonObject noise && noise["per_prompt"] is JsonValue perPrompt && perPrompt.TryGetValue(out bool yes) && yes)
        {
            noise.Remove("file");
            noise.Remove("fingerprint");
        }
        return JsonText.Canonical(node?.ToJsonString() ?? paramsJson, "params");
    }
}
