using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Deja.Memorization.Fuzzing;

/// <summary>
/// Structure-aware mutations of JSON documents: one value of the parsed document is replaced, tweaked,
/// removed or duplicated and the document is written back, so most results still parse and reach the
/// checks behind the parser (types, ranges, cross-field consistency).
/// </summary>
public static class JsonMutations
{
    static readonly JsonDocumentOptions Lenient = new() { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip };

    /// <summary>Values that break assumptions: signs, 2^31, 10^12, fractions, huge exponents, empty and odd strings, wrong kinds.</summary>
    static readonly string[] Replacements =
    [
        "0", "-1", "1", "2", "3", "7", "255", "65536", "2147483647", "2147483648", "-2147483649", "4294967296", "1000000000000",
        "9223372036854775807", "18446744073709551616", "1.5", "-0.0", "1e308", "1e999", "-1e999", "5e-324", "0.000001",
        "\"\"", "\"x\"", "\"linear\"", "\"epsilon\"", "\"v_prediction\"", "\"silu\"", "\"DownBlock2D\"", "\"CrossAttnDownBlock2D\"",
        "\"UpBlock2D\"", "\"\\u0000\"", "\"\\ud800\"", "\"é\\u00e9\"", "\"NaN\"", "\"Infinity\"", "null", "true", "false", "[]", "{}",
        "[1]", "[0, 0]", "[1, 2, 3, 4, 5]", "[\"a\", 1]", "{\"a\": 1}", "[[[[[[[[[[1]]]]]]]]]]",
    ];

    /// <summary>Edits one value anywhere in the document.</summary>
    public static byte[]? EditValue(byte[] input, FuzzRandom random)
    {
        if (Parse(input) is not { } root) return null;
        var slots = Slots(root);
        if (slots.Count == 0) return null;
        var (parent, key, index) = random.Pick(slots);
        var current = key is not null ? ((JsonObject)parent)[key] : ((JsonArray)parent)[index];
        switch (random.Next(6))
        {
            case 0 or 1: Set(parent, key, index, JsonNode.Parse(random.Pick(Replacements))); break;
            case 2: Set(parent, key, index, Tweak(current, random)); break;
            case 3: Remove(parent, key, index); break;
            case 4: Duplicate(parent, key, index, current, random); break;
            default:
                if (key is null) Set(parent, key, index, Tweak(current, random));
                else Rename((JsonObject)parent, key, random);
                break;
        }
        return Write(root, random);
    }

    /// <summary>The same member written twice (JSON parsers keep one of them; readers must not be confused).</summary>
    public static byte[]? DuplicateMember(byte[] input, FuzzRandom random)
    {
        if (Parse(input) is not JsonObject root || root.Count == 0) return null;
        var member = root.ElementAt(random.Next(root.Count));
        var other = random.Chance(0.5) ? member.Value?.ToJsonString() ?? "null" : random.Pick(Replacements);
        var text = Encoding.UTF8.GetString(Write(root, random)!);
        int brace = text.IndexOf('{');
        var extra = $"{JsonSerializer.Serialize(member.Key)}: {other}" + (root.Count > 0 ? ", " : "");
        return Encoding.UTF8.GetBytes(text[..(brace + 1)] + extra + text[(brace + 1)..]);
    }

    /// <summary>Applies <see cref="EditValue"/> to one line of a JSON-lines file.</summary>
    public static byte[]? EditLine(byte[] input, FuzzRandom random)
    {
        var lines = Encoding.UTF8.GetString(input).Split('\n');
        var candidates = Enumerable.Range(0, lines.Length).Where(i => lines[i].TrimStart().StartsWith('{')).ToList();
        if (candidates.Count == 0) return null;
        int at = random.Pick(candidates);
        var edited = random.Chance(0.8) ? EditValue(Encoding.UTF8.GetBytes(lines[at]), random) : DuplicateMember(Encoding.UTF8.GetBytes(lines[at]), random);
        if (edited is null) return null;
        lines[at] = Encoding.UTF8.GetString(edited).ReplaceLineEndings(" ");
        return Encoding.UTF8.GetBytes(string.Join('\n', lines));
    }

    internal static JsonNode? Parse(byte[] input)
    {
        try { return JsonNode.Parse(input, documentOptions: Lenient); }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException) { return null; }
    }

    internal static byte[]? Write(JsonNode root, FuzzRandom random)
    {
        try
        {
            return Encoding.UTF8.GetBytes(root.ToJsonString(new JsonSerializerOptions
            {
                WriteIndented = random.Chance(0.5), Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            }));
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or ArgumentException) { return null; }
    }

    /// <summary>Every place a value sits: (object, key, -1) or (array, null, index).</summary>
    internal static List<(JsonNode Parent, string? Key, int Index)> Slots(JsonNode root)
    {
        var slots = new List<(JsonNode, string?, int)>();
        void Walk(JsonNode? node)
        {
            switch (node)
            {
                case JsonObject o:
                    foreach (var (k, v) in o) { slots.Add((o, k, -1)); Walk(v); }
                    break;
                case JsonArray a:
                    for (int i = 0; i < a.Count; i++) { slots.Add((a, null, i)); Walk(a[i]); }
                    break;
            }
        }
        Walk(root);
        return slots;
    }

    static JsonNode? Tweak(JsonNode? current, FuzzRandom random)
    {
        if (current is JsonValue v && v.TryGetValue(out double d))
        {
            double t = random.Next(7) switch { 0 => d + 1, 1 => d - 1, 2 => d * 2, 3 => d * 1000, 4 => -d, 5 => d / 3, _ => Math.Floor(d / 2) };
            return random.Chance(0.8) && Math.Abs(t) < 1e15 && t == Math.Floor(t) ? JsonValue.Create((long)t) : JsonValue.Create(t);
        }
        if (current is JsonValue s && s.TryGetValue(out string? text))
            return random.Next(4) switch
            {
                0 => JsonValue.Create(text + text),
                1 => JsonValue.Create(text.ToUpperInvariant()),
                2 => JsonValue.Create(text.Length > 1 ? text[..^1] : "\u00e9"),
                _ => JsonValue.Create(new string('a', random.Between(1000, 100_000))),
            };
        if (current is JsonArray a)
        {
            var copy = JsonNode.Parse(a.ToJsonString())!.AsArray();
            if (copy.Count > 0 && random.Chance(0.5)) copy.RemoveAt(random.Next(copy.Count));
            else copy.Add(copy.Count > 0 ? JsonNode.Parse(copy[random.Next(copy.Count)]?.ToJsonString() ?? "null") : JsonValue.Create(1));
            return copy;
        }
        return JsonNode.Parse(random.Pick(Replacements));
    }

    static void Set(JsonNode parent, string? key, int index, JsonNode? value)
    {
        if (key is not null) ((JsonObject)parent)[key] = value;
        else ((JsonArray)parent)[index] = value;
    }

    static void Remove(JsonNode parent, string? key, int index)
    {
        if (key is not null) ((JsonObject)parent).Remove(key);
        else ((JsonArray)parent).RemoveAt(index);
    }

    static void Duplicate(JsonNode parent, string? key, int index, JsonNode? current, FuzzRandom random)
    {
        var copy = current is null ? null : JsonNode.Parse(current.ToJsonString());
        if (key is not null) ((JsonObject)parent)[key + (random.Chance(0.5) ? "_" : "2")] = copy;
        else ((JsonArray)parent).Insert(index, copy);
    }

    static void Rename(JsonObject parent, string key, FuzzRandom random)
    {
        var value = parent[key];
        parent.Remove(key);
        var name = random.Next(3) switch { 0 => key.ToUpperInvariant(), 1 => key + " ", _ => key.Length > 1 ? key[1..] : "_" };
        parent[name] = value;
    }
}
