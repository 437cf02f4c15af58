using System.Text.Json;
using System.Text.Json.Nodes;
using Deja.Memorization.Reporting;
using Deja.Tensors;

namespace Deja.Memorization.Mitigation;

/// <summary>
/// One generation of a `deja mitigate` run: a row of mitigate.jsonl (<see cref="MitigationOutput"/> writes
/// them) with the full path of its image. Seconds and the scores before/after are the prompt's, repeated
/// on each of its generations; null where not recorded.
/// </summary>
public sealed record MitigationRow(int Index, int Generation, string Prompt, long Seed, string Method, string? ModelId, string? ChangedPrompt,
    double? ScoreBefore, double? ScoreAfter, double? Seconds, string ImagePath, JsonObject? Parameters);

/// <summary>
/// Reads a `deja mitigate --out` folder's rows, for everything that reads one back (the report, `replicate
/// --images`, mitigate-summary, sweeps). A row is outside input: its image must lie inside the folder and
/// exist, and the folder must hold rows of one method.
/// </summary>
public static class MitigationRows
{
    public static bool Looks(string folder) => File.Exists(Path.Combine(folder, MitigationOutput.RowsFile));

    public static IReadOnlyList<MitigationRow> Read(string folder)
    {
        string rowsPath = Path.Combine(folder, MitigationOutput.RowsFile);
        if (!File.Exists(rowsPath)) throw new DejaException($"{folder}: not a `deja mitigate` folder (it has no {MitigationOutput.RowsFile})");
        string[] lines = ReportFiles.ReadLines(rowsPath); // strict UTF-8, the report's messages
        string root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder)) + Path.DirectorySeparatorChar;
        var rows = new List<MitigationRow>();
        for (int line = 1; line <= lines.Length; line++)
        {
            string text = lines[line - 1];
            if (string.IsNullOrWhiteSpace(text)) continue;
            string where = $"{rowsPath} line {line}";
            try
            {
                var row = JsonNode.Parse(text) as JsonObject ?? throw new InvalidDataException("expected a JSON object");
                string image = (string?)row["image"] ?? throw new InvalidDataException("missing \"image\"");
                // The image path is relative to the folder; anything reaching outside it is refused.
                var full = Path.GetFullPath(Path.Combine(folder, image));
                if (Path.IsPathRooted(image) || !full.StartsWith(root, StringComparison.Ordinal))
                    throw new InvalidDataException($"\"image\" {image} is not inside the folder");
                if (!File.Exists(full)) throw new DejaException($"{where}: image {image} is missing");
                rows.Add(new MitigationRow(
                    (int?)row["index"] ?? throw new InvalidDataException("missing \"index\""),
                    (int?)row["generation"] is { } g ? (g >= 0 ? g : throw new InvalidDataException($"generation {g}")) : 0,
                    (string?)row["prompt"] ?? throw new InvalidDataException("missing \"prompt\""),
                    (long?)row["seed"] ?? 0,
                    (string?)row["method"] ?? throw new InvalidDataException("missing \"method\""),
                    (string?)row["model_id"], (string?)row["changed_prompt"],
                    Finite(row["score_before"]), Finite(row["score_after"]), Finite(row["seconds"]), full, row["parameters"] as JsonObject));
            }
            catch (Exception e) when (e is JsonException or InvalidDataException or FormatException or InvalidOperationException)
            {
                throw new DejaException($"{where}: not a `deja mitigate` row ({e.Message})", e);
            }
        }
        if (rows.Count == 0) throw new DejaException($"{rowsPath}: no rows (empty file)");
        var methods = rows.Select(r => r.Method).Distinct().ToList();
        if (methods.Count > 1) throw new DejaException($"{rowsPath}: rows of several methods ({string.Join(", ", methods)}); one folder is one run");
        return rows;
    }

    static double? Finite(JsonNode? node) => (double?)node is { } d && double.IsFinite(d) ? d : null;
}
