using System.Globalization;
using System.Text;
using System.Text.Json;
using Deja.Tensors;

namespace Deja.Memorization.Evaluation;

/// <summary>
/// Score files written by other tools, for <c>deja eval</c>: JSONL whose rows are flat objects with
/// numeric fields, or CSV with a header row. Such files do not say which numbers are scores (an "index",
/// a "seed" or a "label" are numbers too), so the caller names the score columns (<c>--columns</c>);
/// without them, or with a name that is not a numeric column, the error lists the numeric columns found.
/// A prompt is taken from a "prompt", "caption" or "text" field when there is one, else the row is
/// named by its file and line. The rows carry no model or parameters, so the mixed-input checks compare
/// them only with each other (a deja file beside them is a different model and is refused as such).
/// </summary>
public static class ForeignScoreFile
{
    static readonly string[] PromptFields = ["prompt", "caption", "text"];

    /// <summary>
    /// True for a file deja did not write: a .csv, or JSONL whose first row has no "scores" object (deja's
    /// rows keep their scores there).
    /// </summary>
    public static bool IsForeign(string path)
    {
        if (Path.GetExtension(path).Equals(".csv", StringComparison.OrdinalIgnoreCase)) return true;
        if (!File.Exists(path)) return false; // ScoresFile.Read says it is missing
        foreach (var line in File.ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                using var doc = JsonDocument.Parse(line);
                return doc.RootElement.ValueKind == JsonValueKind.Object && !doc.RootElement.TryGetProperty("scores", out _);
            }
            catch (JsonException) { return false; } // not JSON at all: the deja reader names the line
        }
        return false;
    }

    /// <summary>The rows of a foreign file with the <paramref name="columns"/> as their scores.</summary>
    public static IReadOnlyList<ScoreRow> Read(string path, IReadOnlyList<string>? columns)
    {
        var (table, numeric) = Path.GetExtension(path).Equals(".csv", StringComparison.OrdinalIgnoreCase) ? ReadCsv(path) : ReadJsonLines(path);
        if (table.Count == 0) throw new DejaException($"{path}: no rows");
        string found = numeric.Count == 0 ? "none" : string.Join(", ", numeric);
        if (columns is null || columns.Count == 0)
            throw new DejaException($"eval: {path} is not a deja score file: name its score columns with --columns (numeric columns found: {found})");
        foreach (var column in columns)
            if (!numeric.Contains(column))
                throw new DejaException($"eval: {path} has no numeric column \"{column}\"" +
                    (table.Any(r => r.Values.ContainsKey(column)) ? " (it has text or empty values)" : "") + $"; numeric columns found: {found}");
        string? promptField = PromptFields.FirstOrDefault(f => table.All(r => r.Text.ContainsKey(f)));
        return [.. table.Select((r, i) => new ScoreRow
        {
            Index = i,
            Prompt = promptField is not null ? r.Text[promptField] : $"{Path.GetFileName(path)} line {r.Line}",
            Scores = new OrderedDictionary<string, double>(columns.Distinct().Select(c => KeyValuePair.Create(c, r.Values[c]!.Value))),
        })];
    }

    /// <summary>One row: its line, every field's number (null when it is not one) and every string field's text.</summary>
    sealed record Row(int Line, Dictionary<string, double?> Values, Dictionary<string, string> Text);

    /// <summary>The rows, and the columns that are numbers in every row, in the order they first appear.</summary>
    static (List<Row>, List<string>) Numeric(List<Row> rows, List<string> order) =>
        (rows, order.Where(c => rows.All(r => r.Values.TryGetValue(c, out var v) && v is not null)).ToList());

    static (List<Row>, List<string>) ReadJsonLines(string path)
    {
        var rows = new List<Row>();
        var order = new List<string>();
        int number = 0;
        foreach (var line in ReadText(path).Split('\n'))
        {
            number++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonDocument doc;
            try { doc = JsonDocument.Parse(line); }
            catch (JsonException e) { throw new DejaException($"{path} line {number}: not JSON ({e.Message})", e); }
            using (doc)
            {
                if (doc.RootElement.ValueKind != JsonValueKind.Object)
                    throw new DejaException($"{path} line {number}: expected a JSON object, got {doc.RootElement.ValueKind}");
                var row = new Row(number, [], []);
                foreach (var p in doc.RootElement.EnumerateObject())
                {
                    if (!row.Values.ContainsKey(p.Name) && !order.Contains(p.Name)) order.Add(p.Name);
                    row.Values[p.Name] = p.Value.ValueKind switch
                    {
                        JsonValueKind.Number => p.Value.GetDouble(),
                        JsonValueKind.String => NonFinite(p.Value.GetString()!),
                        _ => null,
                    };
                    if (p.Value.ValueKind == JsonValueKind.String) row.Text[p.Name] = p.Value.GetString()!;
                }
                rows.Add(row);
            }
        }
        return Numeric(rows, order);
    }

    static (List<Row>, List<string>) ReadCsv(string path)
    {
        var records = Csv(ReadText(path), path);
        if (records.Count == 0) throw new DejaException($"{path}: empty (a CSV score file starts with a header row)");
        var (_, header) = records[0];
        var duplicate = header.GroupBy(h => h).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new DejaException($"{path}: the header names the column \"{duplicate.Key}\" twice");
        var rows = new List<Row>();
        foreach (var (line, fields) in records.Skip(1))
        {
            if (fields.Count == 1 && fields[0].Length == 0) continue; // a blank line
            if (fields.Count != header.Count)
                throw new DejaException($"{path} line {line}: {fields.Count} fields, the header has {header.Count}");
            var row = new Row(line, [], []);
            for (int c = 0; c < header.Count; c++)
            {
                row.Text[header[c]] = fields[c];
                row.Values[header[c]] = double.TryParse(fields[c], NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v : NonFinite(fields[c]);
            }
            rows.Add(row);
        }
        return Numeric(rows, header);
    }

    /// <summary>NaN and the infinities as Python, pandas and .NET write them count as numbers (eval then refuses them by name).</summary>
    static double? NonFinite(string text) => text.Trim().ToLowerInvariant() switch
    {
        "nan" => double.NaN,
        "inf" or "+inf" or "infinity" => double.PositiveInfinity,
        "-inf" or "-infinity" => double.NegativeInfinity,
        _ => null,
    };

    static string ReadText(string path)
    {
        if (!File.Exists(path)) throw new DejaException($"score file not found: {path}");
        try { return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(File.ReadAllBytes(path)).TrimStart('\uFEFF'); }
        catch (DecoderFallbackException e) { throw new DejaException($"{path}: not UTF-8 text", e); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new DejaException($"score file '{path}' cannot be read: {e.Message}", e); }
    }

    /// <summary>RFC 4180 records with the line each starts on: comma-separated, fields in double quotes may
    /// hold commas, line breaks and doubled quotes; \r\n and \n end a record.</summary>
    static List<(int Line, List<string> Fields)> Csv(string text, string path)
    {
        var records = new List<(int, List<string>)>();
        var fields = new List<string>();
        var field = new StringBuilder();
        int line = 1, start = 1;
        bool quoted = false, any = false;
        for (int i = 0; i < text.Length; i++)
        {
            char ch = text[i];
            if (quoted)
            {
                if (ch == '"' && i + 1 < text.Length && text[i + 1] == '"') { field.Append('"'); i++; }
                else if (ch == '"') quoted = false;
                else { if (ch == '\n') line++; field.Append(ch); }
                continue;
            }
            any = true;
            switch (ch)
            {
                case '"' when field.Length == 0: quoted = true; break;
                case ',': fields.Add(field.ToString()); field.Clear(); break;
                case '\r' when i + 1 < text.Length && text[i + 1] == '\n': break;
                case '\n':
                    fields.Add(field.ToString()); field.Clear();
                    records.Add((start, fields)); fields = [];
                    start = ++line; any = false;
                    break;
                default: field.Append(ch); break;
            }
        }
        if (quoted) throw new DejaException($"{path} line {start}: a quoted field is not closed");
        if (any || field.Length > 0 || fields.Count > 0) { fields.Add(field.ToString()); records.Add((start, fields)); }
        return records;
    }
}
