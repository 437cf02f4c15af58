using System.Text.Json.Nodes;
using Deja.Tensors;

namespace Deja.Memorization.Localization;

/// <summary>A caption of a replication benchmark to map: its label and the seeds of its generations to map.</summary>
public sealed record BenchmarkCaption(string Prompt, string Kind, IReadOnlyList<long> Seeds, string? MaskFile);

/// <summary>
/// Which generations a benchmark's localization maps (METHODS.md §4.5): each memorized caption (the
/// benchmark's memorized.txt) with the seeds of the generations that replicate (recorded by `deja
/// replicate` in replicate.jsonl, at most <c>maxSeeds</c>: K's max_seeds_per_prompt = 4), then each
/// non-memorized caption (nonmemorized.txt) with the first seed. Prompt index = position in that list.
/// A generation's seed is its noise: x_T = N(0, I) from a generator seeded with it, as replicate drew it.
/// </summary>
public static class LocalizeBenchmark
{
    public static IReadOnlyList<BenchmarkCaption> Read(string directory, int maxSeeds = 4, int? memorizedLimit = null, int? heldoutLimit = null)
    {
        string Need(string file)
        {
            var path = Path.Combine(directory, file);
            if (!File.Exists(path)) throw new DejaException($"localize: benchmark folder '{directory}' has no {file} (made by `deja replicate`)");
            return path;
        }
        var rows = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        int line = 0;
        foreach (var text in File.ReadLines(Need("replicate.jsonl")))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            JsonObject row;
            try { row = JsonNode.Parse(text)!.AsObject(); }
            catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException)
            { throw new DejaException($"localize: {directory}/replicate.jsonl line {line} is not a JSON object: {e.Message}"); }
            rows[(string?)row["caption"] ?? throw new DejaException($"localize: {directory}/replicate.jsonl line {line} has no caption")] = row;
        }
        long firstSeed = 0;
        var summary = Path.Combine(directory, "replicate.json");
        if (File.Exists(summary) && JsonNode.Parse(File.ReadAllText(summary))?["seed"] is { } s) firstSeed = (long)s;

        var list = new List<BenchmarkCaption>();
        foreach (var caption in Lines(Need("memorized.txt")).Take(memorizedLimit ?? int.MaxValue))
        {
            if (!rows.TryGetValue(caption, out var row)) throw new DejaException($"localize: memorized caption \"{caption}\" is not in {directory}/replicate.jsonl");
            if (row["seeds"] is not JsonArray seeds)
                throw new DejaException($"localize: {directory}/replicate.jsonl records no replicating seeds (made by an older `deja replicate`); run replicate again");
            var chosen = seeds.Select(x => (long)x!).Take(maxSeeds).ToArray();
            if (chosen.Length == 0) throw new DejaException($"localize: memorized caption \"{caption}\" has no replicating seed in {directory}/replicate.jsonl");
            list.Add(new BenchmarkCaption(caption, (string?)row["kind"] ?? "memorized", chosen, (string?)row["mask"]));
        }
        foreach (var caption in Lines(Need("nonmemorized.txt")).Take(heldoutLimit ?? int.MaxValue))
            list.Add(new BenchmarkCaption(caption, rows.TryGetValue(caption, out var r) ? (string?)r["kind"] ?? "heldout" : "heldout", [firstSeed], null));
        return list;
    }

    static IEnumerable<string> Lines(string path) => File.ReadLines(path).Where(l => !string.IsNullOrWhiteSpace(l));

    /// <summary>x_T for the given seeds, [N, C, H, W]: each row from its own generator (as replicate's generations).</summary>
    public static Tensor Noise(IReadOnlyList<long> seeds, int[] latentShape)
    {
        var rows = seeds.Select(s => Tensor.RandN(new Generator(s), [1, .. latentShape])).ToArray();
        if (rows.Length == 1) return rows[0];
        try { return Ops.Concat(rows, 0); }
        finally { foreach (var r in rows) r.Dispose(); }
    }
}
