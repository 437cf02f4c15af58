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
        {
            string where = $"{first.Source.Path} ({first.Side}) and {other.Source.Path} ({other.Side})";
            if (other.Row.ModelId != first.Row.ModelId)
                return $"{where} were scored by different models: {Model(first.Row)} vs {Model(other.Row)}";
            if (other.Row.Method != first.Row.Method)
                return $"{where} were scored with different methods: \"{first.Row.Method}\" vs \"{other.Row.Method}\"";
            string otherParams = ComparableParams(other.Row.ParamsJson);
            if (otherParams != firstParams)
                return $"{where} were scored with different parameters ({JsonText.FirstDifference(firstParams, otherParams)})";
        }
        return null;
    }

    static string Model(ScoreRow row)
    {
        if (row.ModelId.Length == 0) return "(no model recorded)";
        return JsonText.StringMember(row.ModelJson, "name") is { } name ? $"{name} (id {row.ModelId})" : $"id {row.ModelId}";
    }

    /// <summary>
    /// Canonical parameters, without what legitimately differs between the two sides: a per-prompt
    /// noise file holds one row per prompt, so each prompt list has its own file.
    /// </summary>
    static string ComparableParams(string paramsJson)
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
