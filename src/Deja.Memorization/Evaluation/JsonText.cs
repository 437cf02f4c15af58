using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Deja.Memorization.Evaluation;

/// <summary>Small helpers for JSON objects carried as text.</summary>
internal static class JsonText
{
    /// <summary>
    /// A canonical form for comparing parameter objects: members sorted by name at every level, numbers
    /// by value (1 and 1.0 are the same parameter), no whitespace. Two runs with the same settings
    /// compare equal however their writer ordered the members.
    /// </summary>
    public static string Canonical(string json, string what)
    {
        using var doc = Parse(json, what);
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = ScoresFile.Encoder }))
            Append(doc.RootElement, writer);
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>Compact single-line text of a JSON object (a JSONL line must not contain newlines).</summary>
    public static string CompactObject(string json, string what)
    {
        using var doc = Parse(json, what);
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
            throw new ArgumentException($"{what} must be a JSON object, got {doc.RootElement.ValueKind}");
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = ScoresFile.Encoder }))
            doc.RootElement.WriteTo(writer);
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    public static string? StringMember(string json, string name)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            return doc.RootElement.ValueKind == JsonValueKind.Object
                   && doc.RootElement.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String
                ? v.GetString() : null;
        }
        catch (JsonException) { return null; }
    }

    static JsonDocument Parse(string json, string what)
    {
        try { return JsonDocument.Parse(json); }
        catch (JsonException e) { throw new ArgumentException($"{what} is not valid JSON: {e.Message}"); }
    }

    static void Append(JsonElement e, Utf8JsonWriter w)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                w.WriteStartObject();
                foreach (var p in e.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
                {
                    w.WritePropertyName(p.Name);
                    Append(p.Value, w);
                }
                w.WriteEndObject();
                break;
            case JsonValueKind.Array:
                w.WriteStartArray();
                foreach (var item in e.EnumerateArray()) Append(item, w);
                w.WriteEndArray();
                break;
            // A number beyond double's range (1e999) parses as infinity, which is not JSON: keep its text
            // (fuzzing found the resume check throwing a JsonReaderException on it).
            case JsonValueKind.Number when e.TryGetDouble(out var d) && double.IsFinite(d):
                w.WriteRawValue(d.ToString("R", CultureInfo.InvariantCulture));
                break;
            default:
                e.WriteTo(w);
                break;
        }
    }

    /// <summary>
    /// The first place where two JSON documents differ, as "path: a → b" (a member missing on one side
    /// shows as "(none)"), or null when they are equal. For messages that must say what changed.
    /// </summary>
    public static string? FirstDifference(string a, string b)
    {
        using var da = JsonDocument.Parse(a);
        using var db = JsonDocument.Parse(b);
        return Difference(da.RootElement, db.RootElement, "");
    }

    static string? Difference(JsonElement a, JsonElement b, string path)
    {
        if (a.ValueKind == JsonValueKind.Object && b.ValueKind == JsonValueKind.Object)
        {
            var names = a.EnumerateObject().Select(p => p.Name).Union(b.EnumerateObject().Select(p => p.Name));
            foreach (var name in names)
            {
                string sub = path.Length == 0 ? name : path + "." + name;
                bool inA = a.TryGetProperty(name, out var va), inB = b.TryGetProperty(name, out var vb);
                if (!inA || !inB) return $"{sub}: {(inA ? va.GetRawText() : "(none)")} → {(inB ? vb.GetRawText() : "(none)")}";
                if (Difference(va, vb, sub) is { } d) return d;
            }
            return null;
        }
        string ra = a.GetRawText(), rb = b.GetRawText();
        if (a.ValueKind == JsonValueKind.Number && b.ValueKind == JsonValueKind.Number && a.GetDouble() == b.GetDouble()) return null;
        return ra == rb ? null : $"{(path.Length == 0 ? "(root)" : path)}: {ra} → {rb}";
    }
}
