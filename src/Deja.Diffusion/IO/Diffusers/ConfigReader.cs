using System.Text.Json;
using Deja.Tensors;

namespace Deja.Diffusion.IO;

/// <summary>
/// Typed access to a diffusers/transformers config.json. Absent keys and JSON null take the library's
/// default (what Python's <c>from_pretrained</c> would use); a value of the wrong type is an
/// <see cref="InvalidDataException"/> naming the file and the key.
/// </summary>
internal sealed class ConfigReader
{
    public string Source { get; }
    public JsonElement Root { get; }

    ConfigReader(string source, JsonElement root) { Source = source; Root = root; }

    public static ConfigReader Load(string path)
    {
        if (!File.Exists(path)) throw new DejaException($"config file '{path}' does not exist");
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new DejaException($"config file '{path}' cannot be read: {e.Message}", e); }
        return Parse(text, path);
    }

    /// <summary>Parses JSON text; <paramref name="source"/> names it in messages.</summary>
    public static ConfigReader Parse(string json, string source)
    {
        try
        {
            using var doc = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new DejaException($"{source}: a config must be a JSON object, found {doc.RootElement.ValueKind}");
            return new ConfigReader(source, doc.RootElement.Clone());
        }
        catch (JsonException e) { throw new DejaException($"{source}: not valid JSON ({e.Message})", e); }
    }

    bool TryGet(string key, out JsonElement value) =>
        Root.TryGetProperty(key, out value) && value.ValueKind != JsonValueKind.Null;

    public bool Has(string key) => TryGet(key, out _);

    /// <summary>
    /// Refuses a config file that lacks one of <paramref name="keys"/>: settings that fix the shapes of the
    /// weights, which diffusers and transformers always write. Filling them with the library default would
    /// turn one missing field into a confusing count of mismatched tensors at load.
    /// </summary>
    public ConfigReader Require(params string[] keys)
    {
        var missing = keys.Where(k => !Has(k)).ToList();
        if (missing.Count > 0)
            throw new DejaException($"{Source}: required field{(missing.Count > 1 ? "s" : "")} {string.Join(", ", missing.Select(k => $"'{k}'"))} " +
                                    $"{(missing.Count > 1 ? "are" : "is")} missing (they fix the shapes of the weights; diffusers and transformers always write them)");
        return this;
    }

    DejaException Wrong(string key, JsonElement v, string expected) =>
        new($"{Source}: '{key}' must be {expected}, found {v.GetRawText()}");

    int AsInt(string key, JsonElement v)
    {
        // Python writes floats like 1.0 for some integer settings; accept any integral number.
        if (v.ValueKind == JsonValueKind.Number)
        {
            if (v.TryGetInt32(out int i)) return i;
            if (v.TryGetDouble(out double d) && d == Math.Floor(d) && Math.Abs(d) <= int.MaxValue) return (int)d;
        }
        throw Wrong(key, v, "an integer");
    }

    public int Int(string key, int fallback) => TryGet(key, out var v) ? AsInt(key, v) : fallback;
    public int? IntOrNull(string key) => TryGet(key, out var v) ? AsInt(key, v) : null;

    public double Double(string key, double fallback)
    {
        if (!TryGet(key, out var v)) return fallback;
        // Numbers beyond double's range (1e999) come back infinite: no setting is meant to be.
        return v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double d) && double.IsFinite(d) ? d : throw Wrong(key, v, "a finite number");
    }

    public bool Bool(string key, bool fallback)
    {
        if (!TryGet(key, out var v)) return fallback;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Wrong(key, v, "true or false"),
        };
    }

    public bool? BoolOrNull(string key) => Has(key) ? Bool(key, false) : null;

    public string String(string key, string fallback) => StringOrNull(key) ?? fallback;

    public string? StringOrNull(string key)
    {
        if (!TryGet(key, out var v)) return null;
        return v.ValueKind == JsonValueKind.String ? v.GetString()! : throw Wrong(key, v, "a string");
    }

    public string[] Strings(string key, string[] fallback)
    {
        if (!TryGet(key, out var v)) return fallback;
        if (v.ValueKind != JsonValueKind.Array) throw Wrong(key, v, "a list of strings");
        return v.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? e.GetString()! : throw Wrong(key, v, "a list of strings")).ToArray();
    }

    public int[] Ints(string key, int[] fallback)
    {
        if (!TryGet(key, out var v)) return fallback;
        if (v.ValueKind != JsonValueKind.Array) throw Wrong(key, v, "a list of integers");
        return v.EnumerateArray().Select(e => AsInt(key, e)).ToArray();
    }

    public double[]? DoublesOrNull(string key)
    {
        if (!TryGet(key, out var v)) return null;
        if (v.ValueKind != JsonValueKind.Array) throw Wrong(key, v, "a list of numbers");
        return v.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.Number && e.TryGetDouble(out double d) && double.IsFinite(d) ? d : throw Wrong(key, v, "a list of finite numbers")).ToArray();
    }

    /// <summary>
    /// A per-block setting written either as one integer (the same for every block) or as a list with
    /// one value per block, expanded to <paramref name="blocks"/> values as diffusers does.
    /// A list of the wrong length is returned as is; validation reports it.
    /// </summary>
    public int[] IntPerBlock(string key, int blocks, int fallback)
    {
        if (!TryGet(key, out var v)) return Enumerable.Repeat(fallback, blocks).ToArray();
        if (v.ValueKind == JsonValueKind.Number) return Enumerable.Repeat(AsInt(key, v), blocks).ToArray();
        if (v.ValueKind == JsonValueKind.Array) return v.EnumerateArray().Select(e => AsInt(key, e)).ToArray();
        throw Wrong(key, v, "an integer or a list of integers");
    }

    public int[]? IntPerBlockOrNull(string key, int blocks) => Has(key) ? IntPerBlock(key, blocks, 0) : null;

    public bool[] BoolPerBlock(string key, int blocks, bool fallback)
    {
        if (!TryGet(key, out var v)) return Enumerable.Repeat(fallback, blocks).ToArray();
        if (v.ValueKind is JsonValueKind.True or JsonValueKind.False) return Enumerable.Repeat(v.GetBoolean(), blocks).ToArray();
        if (v.ValueKind == JsonValueKind.Array)
            return v.EnumerateArray().Select(e => e.ValueKind is JsonValueKind.True or JsonValueKind.False ? e.GetBoolean() : throw Wrong(key, v, "true/false or a list of them")).ToArray();
        throw Wrong(key, v, "true/false or a list of them");
    }

    /// <summary>Whether the key holds a list (e.g. attention_head_dim given per block, the SD2 style).</summary>
    public bool IsList(string key) => TryGet(key, out var v) && v.ValueKind == JsonValueKind.Array;
}
