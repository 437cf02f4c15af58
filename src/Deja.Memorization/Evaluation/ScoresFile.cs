using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Deja.Diffusion.Pipelines;
using Deja.Tensors;

namespace Deja.Memorization.Evaluation;

/// <summary>
/// The JSONL score file: one <see cref="ScoreRow"/> per line,
/// <c>{"index":0,"prompt":"…","method":"…","scores":{…},"tokens":12,"truncated":false,"params":{…},"model":{"id":"…",…}}</c>.
/// Lines are only ever appended whole, so a run killed at any moment leaves a file that can be resumed.
/// </summary>
public static class ScoresFile
{
    /// <summary>Prompts stay readable (no \u escapes for non-ASCII or '+', '&lt;'); the file is never embedded in HTML.</summary>
    internal static readonly JavaScriptEncoder Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping;

    /// <summary>All rows of a score file. A final line without a newline that is not valid JSON (a write
    /// cut short) is ignored; any other invalid line is a <see cref="DejaException"/> naming file and line.</summary>
    public static IReadOnlyList<ScoreRow> Read(string path) => Read(path, out _);

    public static IReadOnlyList<ScoreRow> Read(string path, out long ignoredTrailingBytes)
    {
        if (!File.Exists(path)) throw new DejaException($"score file not found: {path}");
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new DejaException($"score file '{path}' cannot be read: {e.Message}", e); }
        var (rows, completeLength, _) = Parse(bytes, path);
        ignoredTrailingBytes = bytes.Length - completeLength;
        return rows;
    }

    /// <summary>
    /// Opens (or creates) a score file to append rows made by one model, method and parameter set.
    /// Refuses, with a <see cref="DejaException"/> naming the differing field, a file whose rows were made
    /// differently: mixing them would make the scores incomparable. A trailing partial line (a write
    /// cut short by a kill) is cut off first, see <see cref="ScoresWriter.DroppedBytes"/>.
    /// </summary>
    public static ScoresWriter OpenForAppend(string path, string modelId, string method, string paramsJson)
    {
        string expectedParams = JsonText.Canonical(paramsJson, "params");
        FileStream stream;
        try { stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new DejaException($"score file '{path}' cannot be opened for writing: {e.Message}", e); }
        try
        {
            var bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
            var (rows, completeLength, lineNumbers) = Parse(bytes, path);
            long dropped = 0;
            if (completeLength < bytes.Length)
            {
                dropped = bytes.Length - completeLength;
                stream.SetLength(completeLength);
            }
            else if (bytes.Length > 0 && bytes[^1] != (byte)'\n')
            {
                // The last line is a complete row, only its newline is missing (a hand-edited file):
                // keep it and end the line so the next append starts on its own line.
                stream.Seek(0, SeekOrigin.End);
                stream.WriteByte((byte)'\n');
            }
            for (int i = 0; i < rows.Count; i++)
                CheckSameRun(rows[i], $"{path} line {lineNumbers[i]}", modelId, method, expectedParams);
            stream.Seek(0, SeekOrigin.End);
            stream.Flush(flushToDisk: true);
            var done = new HashSet<(int, string)>(rows.Select(r => (r.Index, r.Prompt)));
            return new ScoresWriter(stream, path, modelId, method, expectedParams, done, [.. rows.Select(r => (r.Index, r.Prompt))], dropped);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    internal static void CheckSameRun(ScoreRow row, string where, string modelId, string method, string canonicalParams)
    {
        if (row.ModelId != modelId && ModelInfo.IsSampledHashId(row.ModelId) && !ModelInfo.IsSampledHashId(modelId))
            throw new DejaException($"{where} was scored with model id \"{row.ModelId}\", an id of the older scheme that hashed only sampled bytes of the " +
                                    $"weights (a damaged file could keep it); ids now hash every tensor, so these rows cannot be matched to this model (\"{modelId}\") " +
                                    "and resuming could mix scores of two different weight files: write to another file, or rescore");
        if (row.ModelId != modelId)
            throw new DejaException($"{where} was scored with model id \"{row.ModelId}\", this run uses \"{modelId}\"; write to another file");
        if (row.Method != method)
            throw new DejaException($"{where} was scored with method \"{row.Method}\", this run uses \"{method}\"; write to another file");
        var rowParams = JsonText.Canonical(row.ParamsJson, "params");
        if (rowParams != canonicalParams)
            throw new DejaException($"{where} was scored with other params ({JsonText.FirstDifference(rowParams, canonicalParams)}, file → this run); write to another file");
    }

    /// <summary>Rows of the complete lines, the byte length those lines span, and each row's line number.
    /// A final unterminated line is included only if it parses.</summary>
    static (List<ScoreRow> Rows, long CompleteLength, List<int> LineNumbers) Parse(byte[] bytes, string path)
    {
        var rows = new List<ScoreRow>();
        var lineNumbers = new List<int>();
        int start = 0, line = 0;
        while (start < bytes.Length)
        {
            line++;
            int end = Array.IndexOf(bytes, (byte)'\n', start);
            bool terminated = end >= 0;
            if (!terminated) end = bytes.Length;
            var span = new ReadOnlySpan<byte>(bytes, start, end - start);
            if (!IsBlank(span))
            {
                ScoreRow row;
                try { row = ParseRow(span); }
                catch (Exception e) when (e is JsonException or InvalidDataException or FormatException or InvalidOperationException)
                {
                    if (!terminated) return (rows, start, lineNumbers); // a write cut short
                    throw new DejaException($"{path} line {line}: {e.Message}", e);
                }
                rows.Add(row);
                lineNumbers.Add(line);
            }
            start = terminated ? end + 1 : end;
        }
        return (rows, bytes.Length, lineNumbers);
    }

    static bool IsBlank(ReadOnlySpan<byte> span)
    {
        foreach (var b in span) if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r')) return false;
        return true;
    }

    static readonly HashSet<string> StandardMembers = ["index", "prompt", "method", "scores", "tokens", "truncated", "deja_version", "params", "model"];

    /// <summary>The members a producer added beyond the standard ones, as a compact JSON object.</summary>
    static string ExtraMembers(JsonElement root)
    {
        var extra = root.EnumerateObject().Where(p => !StandardMembers.Contains(p.Name)).ToList();
        if (extra.Count == 0) return "{}";
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = Encoder }))
        {
            w.WriteStartObject();
            foreach (var p in extra) p.WriteTo(w);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    internal static ScoreRow ParseRow(ReadOnlySpan<byte> utf8)
    {
        using var doc = ParseDocument(utf8.ToArray());
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"expected a JSON object, got {root.ValueKind}");
        var scores = new OrderedDictionary<string, double>();
        foreach (var p in Required(root, "scores", JsonValueKind.Object).EnumerateObject())
        {
            double value = p.Value.ValueKind switch
            {
                JsonValueKind.Number => p.Value.GetDouble(),
                JsonValueKind.String => ParseNonFinite(p.Value.GetString()!, p.Name),
                JsonValueKind.Null => double.NaN,
                _ => throw new InvalidDataException($"score \"{p.Name}\" must be a number, got {p.Value.ValueKind}"),
            };
            if (!scores.TryAdd(p.Name, value)) throw new InvalidDataException($"score \"{p.Name}\" appears twice");
        }
        return new ScoreRow
        {
            Index = Required(root, "index", JsonValueKind.Number).TryGetInt32(out var index)
                ? index : throw new InvalidDataException("\"index\" must be an integer"),
            Prompt = Required(root, "prompt", JsonValueKind.String).GetString()!,
            Method = Optional(root, "method", JsonValueKind.String)?.GetString() ?? "",
            Scores = scores,
            Tokens = Optional(root, "tokens", JsonValueKind.Number) is { } t
                ? (t.TryGetInt32(out var tokens) ? tokens : throw new InvalidDataException("\"tokens\" must be an integer")) : 0,
            Truncated = root.TryGetProperty("truncated", out var tr) && tr.ValueKind == JsonValueKind.True,
            ParamsJson = Optional(root, "params", JsonValueKind.Object)?.GetRawText() ?? "{}",
            ExtraJson = ExtraMembers(root),
            DejaVersion = Optional(root, "deja_version", JsonValueKind.String)?.GetString(),
            ModelJson = Optional(root, "model", JsonValueKind.Object)?.GetRawText() ?? "{}",
        };
    }

    /// <summary>Parses a line; Python's json module writes bare NaN/Infinity/-Infinity, which are not JSON,
    /// so a line that fails is retried with those tokens quoted (the form we write ourselves).</summary>
    static JsonDocument ParseDocument(byte[] line)
    {
        try { return JsonDocument.Parse(line); }
        catch (JsonException)
        {
            var quoted = QuotePythonNonFinite(line);
            if (quoted is null) throw;
            try { return JsonDocument.Parse(quoted); }
            catch (JsonException) { }
            throw;
        }
    }

    static byte[]? QuotePythonNonFinite(byte[] line)
    {
        var text = Encoding.UTF8.GetString(line);
        var sb = new StringBuilder(text.Length + 16);
        bool inString = false, changed = false;
        for (int i = 0; i < text.Length; i++)
        {
            char ch = text[i];
            if (inString)
            {
                sb.Append(ch);
                if (ch == '\\' && i + 1 < text.Length) sb.Append(text[++i]);
                else if (ch == '"') inString = false;
                continue;
            }
            if (ch == '"') { inString = true; sb.Append(ch); continue; }
            string? token = null;
            foreach (var t in (string[])["NaN", "-Infinity", "Infinity"])
                if (string.CompareOrdinal(text, i, t, 0, t.Length) == 0) { token = t; break; }
            if (token is null) { sb.Append(ch); continue; }
            sb.Append('"').Append(token).Append('"');
            i += token.Length - 1;
            changed = true;
        }
        return changed ? Encoding.UTF8.GetBytes(sb.ToString()) : null;
    }

    // JSON has no NaN or infinities; they are written as the strings System.Text.Json uses for them.
    static double ParseNonFinite(string text, string name) => text switch
    {
        "NaN" => double.NaN,
        "Infinity" => double.PositiveInfinity,
        "-Infinity" => double.NegativeInfinity,
        _ => throw new InvalidDataException($"score \"{name}\" must be a number, got \"{text}\""),
    };

    static JsonElement Required(JsonElement root, string name, JsonValueKind kind) =>
        Optional(root, name, kind) ?? throw new InvalidDataException($"missing \"{name}\"");

    static JsonElement? Optional(JsonElement root, string name, JsonValueKind kind)
    {
        if (!root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != kind) throw new InvalidDataException($"\"{name}\" must be {kind}, got {v.ValueKind}");
        return v;
    }

    /// <summary>A row as one JSON line, newline included.</summary>
    internal static void WriteRow(ScoreRow row, Stream stream)
    {
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = Encoder }))
        {
            w.WriteStartObject();
            w.WriteNumber("index", row.Index);
            w.WriteString("prompt", row.Prompt);
            w.WriteString("method", row.Method);
            w.WriteStartObject("scores");
            foreach (var (name, value) in row.Scores)
            {
                if (double.IsFinite(value)) w.WriteNumber(name, value);
                else w.WriteString(name, double.IsNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity");
            }
            w.WriteEndObject();
            w.WriteNumber("tokens", row.Tokens);
            w.WriteBoolean("truncated", row.Truncated);
            if (row.ExtraJson != "{}")
                using (var extra = JsonDocument.Parse(row.ExtraJson))
                    foreach (var member in extra.RootElement.EnumerateObject())
                    {
                        if (StandardMembers.Contains(member.Name))
                            throw new ArgumentException($"score row: extra member \"{member.Name}\" would overwrite a standard one");
                        member.WriteTo(w);
                    }
            // which Deja wrote the row: a row read back keeps the version it was written with
            w.WriteString("deja_version", row.DejaVersion ?? DejaVersion.Text);
            w.WritePropertyName("params");
            w.WriteRawValue(JsonText.CompactObject(row.ParamsJson, "params"));
            w.WritePropertyName("model");
            w.WriteRawValue(JsonText.CompactObject(row.ModelJson, "model"));
            w.WriteEndObject();
        }
        stream.WriteByte((byte)'\n');
    }

    internal static byte[] Serialize(IEnumerable<ScoreRow> rows)
    {
        using var buffer = new MemoryStream();
        foreach (var row in rows) WriteRow(row, buffer);
        return buffer.ToArray();
    }

    internal static string ToLine(ScoreRow row) => Encoding.UTF8.GetString(Serialize([row]));
}
