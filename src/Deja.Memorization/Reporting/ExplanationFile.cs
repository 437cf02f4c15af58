using System.Text.Json;
using System.Text.Json.Nodes;
using Deja.Memorization.Explanation;
using Deja.Tensors;

namespace Deja.Memorization.Reporting;

/// <summary>
/// Reads what <c>deja explain --json</c> prints, one object per prompt:
/// <c>{"index", "prompt", "truncated", "tokens": [{"position", "token", "significance"}]}</c> (the inverse
/// of <see cref="ExplanationRow.ToJson"/>). Any line that is not such a row is refused naming file and line.
/// </summary>
public static class ExplanationFile
{
    public static IReadOnlyList<ExplanationRow> Read(string path)
    {
        if (!File.Exists(path)) throw new DejaException($"explanation file not found: {path}");
        var rows = new List<ExplanationRow>();
        int line = 0;
        foreach (var text in ReportFiles.ReadLines(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            try { rows.Add(Parse(text)); }
            catch (Exception e) when (e is JsonException or InvalidDataException or FormatException or InvalidOperationException)
            {
                throw new DejaException($"{path} line {line}: not a `deja explain --json` row ({e.Message})", e);
            }
        }
        if (rows.Count == 0) throw new DejaException($"{path}: no explanation rows (empty file)");
        return rows;
    }

    /// <summary>True when a JSON row looks like explain's (a "tokens" array and no "scores"): how the report tells the files apart.</summary>
    public static bool IsExplanationRow(JsonObject row) => row["tokens"] is JsonArray && row["scores"] is null;

    static ExplanationRow Parse(string text)
    {
        var row = JsonNode.Parse(text) as JsonObject ?? throw new InvalidDataException("expected a JSON object");
        var tokens = row["tokens"] as JsonArray ?? throw new InvalidDataException("missing \"tokens\" array");
        var list = new List<TokenScore>();
        foreach (var t in tokens)
        {
            var o = t as JsonObject ?? throw new InvalidDataException("a token is not an object");
            double g = Required(o, "significance").GetValue<double>();
            if (!double.IsFinite(g)) throw new InvalidDataException("a significance is not finite");
            list.Add(new TokenScore(Required(o, "position").GetValue<int>(), Required(o, "token").GetValue<string>(), g));
        }
        return new ExplanationRow(Required(row, "index").GetValue<int>(), Required(row, "prompt").GetValue<string>(), list,
            row["truncated"] is JsonValue tr && tr.GetValue<bool>());
    }

    static JsonValue Required(JsonObject o, string name) =>
        o[name] as JsonValue ?? throw new InvalidDataException($"missing \"{name}\"");
}
