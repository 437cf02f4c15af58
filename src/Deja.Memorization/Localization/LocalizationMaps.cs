using System.Globalization;
using System.Text.Json;
using Deja.Diffusion.IO;
using Deja.Tensors;

namespace Deja.Memorization.Localization;

/// <summary>One prompt of a localize run: its index, text and the generation (seed) numbers that were mapped.</summary>
public sealed record LocalizedPrompt(int Index, string Prompt, IReadOnlyList<int> Generations);

/// <summary>
/// The folder `deja localize` writes: <c>maps.safetensors</c> with one float [H, W] tensor per
/// <c>{index}/{generation}/{map}</c>, and <c>localize.jsonl</c> with one object per prompt
/// (<c>index</c>, <c>prompt</c>, <c>generations</c>; other members are ignored). Maps are read one at
/// a time, on demand; NaN and infinities are read as they are, for the evaluation to skip and count.
/// </summary>
public sealed class LocalizationMaps : IMapSource, IDisposable
{
    public const string MapsFile = "maps.safetensors", PromptsFile = "localize.jsonl";

    readonly SafeTensorsFile file;
    readonly Dictionary<(int Index, int Generation, string Map), SafeTensorsEntry> entries = [];

    public string Folder { get; }
    public IReadOnlyList<LocalizedPrompt> Prompts { get; }

    /// <summary>Every map name present, in ordinal order.</summary>
    public IReadOnlyList<string> MapNames { get; }

    /// <summary>Tensors whose names are not <c>index/generation/map</c> (left out of the evaluation).</summary>
    public int IgnoredTensors { get; }

    LocalizationMaps(string folder, SafeTensorsFile file, IReadOnlyList<LocalizedPrompt> prompts)
    {
        Folder = folder; this.file = file; Prompts = prompts;
        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var e in file.Entries)
        {
            if (!TryParseName(e.Name, out int index, out int generation, out string map)) { IgnoredTensors++; continue; }
            if (e.Shape.Length != 2 || e.Shape[0] < 1 || e.Shape[1] < 1)
                throw new DejaException($"{Path.Combine(folder, MapsFile)}: map '{e.Name}' has shape [{string.Join(", ", e.Shape)}]; maps must be 2-D [H, W]");
            if (!e.DType.IsReadableAsFloat())
                throw new DejaException($"{Path.Combine(folder, MapsFile)}: map '{e.Name}' is {e.DType}, not a float tensor");
            entries[(index, generation, map)] = e;
            names.Add(map);
        }
        MapNames = [.. names];
    }

    public static LocalizationMaps Open(string folder)
    {
        if (!Directory.Exists(folder)) throw new DejaException($"--maps {folder}: no such folder");
        var jsonl = Path.Combine(folder, PromptsFile);
        var maps = Path.Combine(folder, MapsFile);
        if (!File.Exists(jsonl)) throw new DejaException($"--maps {folder}: no {PromptsFile} (is it a folder written by deja localize?)");
        if (!File.Exists(maps)) throw new DejaException($"--maps {folder}: no {MapsFile} (is it a folder written by deja localize?)");
        var prompts = ReadPrompts(jsonl);
        var file = SafeTensorsFile.Open(maps, allowNonFinite: true);
        try
        {
            var result = new LocalizationMaps(folder, file, prompts);
            if (result.entries.Count == 0)
                throw new DejaException($"{maps}: no maps (no tensor is named index/generation/map)");
            return result;
        }
        catch { file.Dispose(); throw; }
    }

    public bool Contains(int index, int generation, string map) => entries.ContainsKey((index, generation, map));

    /// <summary>The [H, W] of a map, without reading it.</summary>
    public (int Height, int Width) Shape(int index, int generation, string map)
    {
        var e = Entry(index, generation, map);
        return (e.Shape[0], e.Shape[1]);
    }

    /// <summary>The largest map (by pixel count; the first in name order on ties) among the named maps.</summary>
    public (int Height, int Width) LargestShape(IReadOnlyCollection<string> maps)
    {
        (int H, int W) best = (0, 0);
        foreach (var ((_, _, map), e) in entries.OrderBy(kv => kv.Value.Name, StringComparer.Ordinal))
            if (maps.Contains(map) && (long)e.Shape[0] * e.Shape[1] > (long)best.H * best.W) best = (e.Shape[0], e.Shape[1]);
        return best;
    }

    /// <summary>The map's values, row-major, as float32 (NaN and infinities kept), with its [H, W].</summary>
    public (float[] Values, int Height, int Width) Read(int index, int generation, string map)
    {
        var e = Entry(index, generation, map);
        using var t = file.ReadTensor(e.Name);
        return (t.ToArray(), e.Shape[0], e.Shape[1]);
    }

    SafeTensorsEntry Entry(int index, int generation, string map) =>
        entries.TryGetValue((index, generation, map), out var e) ? e
            : throw new DejaException($"{Path.Combine(Folder, MapsFile)} has no map '{map}' for prompt {index}, generation {generation} " +
                                      $"(expected a tensor named {index}/{generation}/{map})");

    static bool TryParseName(string name, out int index, out int generation, out string map)
    {
        index = generation = -1; map = "";
        var parts = name.Split('/', 3);
        if (parts.Length != 3 || parts[2].Length == 0) return false;
        map = parts[2];
        return int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out index)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out generation);
    }

    static List<LocalizedPrompt> ReadPrompts(string path)
    {
        var prompts = new List<LocalizedPrompt>();
        var seen = new HashSet<int>();
        foreach (var (root, where) in JsonFields.Objects(path))
        {
            int index = JsonFields.Int(root, "index", where);
            string prompt = JsonFields.String(root, "prompt", where);
            if (!root.TryGetProperty("generations", out var gens) || gens.ValueKind != JsonValueKind.Array)
                throw new DejaException($"{where} has no \"generations\" array");
            var generations = new List<int>();
            foreach (var g in gens.EnumerateArray())
            {
                if (g.ValueKind != JsonValueKind.Number || !g.TryGetInt32(out int n) || n < 0)
                    throw new DejaException($"{where}: \"generations\" must hold non-negative integers, found {g.GetRawText()}");
                if (generations.Contains(n)) throw new DejaException($"{where}: generation {n} is listed twice");
                generations.Add(n);
            }
            if (!seen.Add(index)) throw new DejaException($"{where}: prompt index {index} appears twice in {PromptsFile}");
            prompts.Add(new LocalizedPrompt(index, prompt, generations));
        }
        if (prompts.Count == 0) throw new DejaException($"{path} lists no prompts");
        return prompts;
    }

    public void Dispose() => file.Dispose();
}

/// <summary>Required members of the JSON lines the localization inputs are made of, each failure one clear line.</summary>
internal static class JsonFields
{
    /// <summary>
    /// The JSON objects of a JSONL file, each with where it stands ("PATH line N") for messages; blank
    /// lines are skipped, and a line that is not a JSON object is one clear error. An object is valid
    /// until the next one is requested.
    /// </summary>
    public static IEnumerable<(JsonElement Object, string Where)> Objects(string path)
    {
        int lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            string where = $"{path} line {lineNumber}";
            JsonDocument doc;
            try { doc = JsonDocument.Parse(line); }
            catch (JsonException e) { throw new DejaException($"{where} is not JSON ({e.Message})"); }
            using (doc)
            {
                if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new DejaException($"{where} is not a JSON object");
                yield return (doc.RootElement, where);
            }
        }
    }

    public static int Int(JsonElement o, string name, string where)
    {
        if (!o.TryGetProperty(name, out var v)) throw new DejaException($"{where} has no \"{name}\"");
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int n) || n < 0)
            throw new DejaException($"{where}: \"{name}\" must be a non-negative integer, found {v.GetRawText()}");
        return n;
    }

    public static string String(JsonElement o, string name, string where)
    {
        if (!o.TryGetProperty(name, out var v)) throw new DejaException($"{where} has no \"{name}\"");
        if (v.ValueKind != JsonValueKind.String) throw new DejaException($"{where}: \"{name}\" must be a string, found {v.GetRawText()}");
        return v.GetString()!;
    }

    public static string? OptionalString(JsonElement o, string name, string where)
    {
        if (!o.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.String) throw new DejaException($"{where}: \"{name}\" must be a string, found {v.GetRawText()}");
        return v.GetString()!;
    }
}
