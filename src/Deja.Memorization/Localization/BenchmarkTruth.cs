using System.Text.Json;
using Deja.Tensors;

namespace Deja.Memorization.Localization;

/// <summary>
/// Ground truth from a Deja benchmark folder (what `deja replicate` writes): <c>replicate.jsonl</c>
/// (caption, kind, and for templates brand and mask; optionally <c>seeds</c>, the generations that
/// replicated), <c>memorized.txt</c> and <c>nonmemorized.txt</c>. Localize prompts are matched to captions
/// by exact text. A memorized template caption gets its brand's mask, a memorized verbatim caption all
/// ones (K's MV/RV), a non-memorized caption all zeros (K's Nmem); a prompt in neither list is left out.
/// </summary>
public static class BenchmarkTruth
{
    sealed record Row(string Caption, string Kind, string? Brand, string? Mask, IReadOnlyList<int>? Seeds);

    /// <param name="maskSize">--mask-size: the resolution of all-ones/zeros masks when no template is evaluated.</param>
    /// <param name="largestMap">The fallback resolution when neither a template mask nor --mask-size gives one.</param>
    public static LocalizationTruth Build(string folder, IReadOnlyList<LocalizedPrompt> prompts, int? maskSize, Func<(int Height, int Width)> largestMap)
    {
        if (!Directory.Exists(folder)) throw new DejaException($"--benchmark {folder}: no such folder");
        var rows = ReadRows(Path.Combine(folder, "replicate.jsonl"));
        var memorized = ReadList(Path.Combine(folder, "memorized.txt"));
        var nonMemorized = ReadList(Path.Combine(folder, "nonmemorized.txt"));
        if (memorized.FirstOrDefault(nonMemorized.Contains) is { } both)
            throw new DejaException($"--benchmark {folder}: \"{both}\" is in both memorized.txt and nonmemorized.txt");

        var cache = new LocalizationTruth.MaskCache();
        var pending = new List<(LocalizedPrompt Prompt, int Generation, TruthKind Kind, BinaryMask? Mask)>();
        int notListed = 0, notReplicated = 0;
        foreach (var p in prompts)
        {
            if (nonMemorized.Contains(p.Prompt))
            {
                foreach (var g in p.Generations) pending.Add((p, g, TruthKind.Zeros, null));
                continue;
            }
            if (!memorized.Contains(p.Prompt)) { notListed++; continue; }
            if (!rows.TryGetValue(p.Prompt, out var row))
                throw new DejaException($"--benchmark {folder}: \"{p.Prompt}\" is in memorized.txt but not in replicate.jsonl, so its kind is unknown");
            var (kind, mask) = row.Kind switch
            {
                "template" => (TruthKind.Template, cache.Get(MaskPath(folder, row))),
                "verbatim" => (TruthKind.Ones, (BinaryMask?)null),
                _ => throw new DejaException($"--benchmark {folder}: memorized caption \"{p.Prompt}\" has kind \"{row.Kind}\"; " +
                                             "only template (its brand's mask) and verbatim (the whole image) have a known region"),
            };
            // K evaluates only the (prompt, seed) pairs that replicated (METHODS.md §4.7.1); a memorized
            // caption's other generations have no known region, so they are left out, not scored as zeros.
            foreach (var g in p.Generations)
            {
                if (row.Seeds is null || row.Seeds.Contains(g)) pending.Add((p, g, kind, mask));
                else notReplicated++;
            }
        }

        var templateSize = LocalizationTruth.CommonSize(pending.Where(s => s.Mask is not null).Select(s => s.Mask!), $"--benchmark {folder}");
        LocalizationTruth.CheckMaskSize(maskSize, templateSize, "template");
        // All-ones/zeros masks take the template masks' size, else --mask-size, else the size of the
        // benchmark's other template masks (its image size), else the largest map.
        (int Height, int Width) size;
        if (templateSize is { } t) size = t;
        else if (maskSize is int n) size = (n, n);
        else size = LocalizationTruth.CommonSize(OtherTemplateMasks(folder, rows.Values), $"--benchmark {folder}") ?? largestMap();
        var (height, width) = size;
        var ones = BinaryMask.Ones(height, width);
        var zeros = BinaryMask.Zeros(height, width);
        var samples = pending.Select(s => new LocalizationSample(s.Prompt.Index, s.Generation, s.Prompt.Prompt, s.Kind,
            s.Mask ?? (s.Kind == TruthKind.Ones ? ones : zeros))).ToList();
        return new LocalizationTruth(samples, height, width,
        [
            ("prompts_not_in_benchmark", notListed, "prompts in neither memorized.txt nor nonmemorized.txt"),
            ("generations_not_replicated", notReplicated, "generations of memorized prompts that did not replicate (not in the row's \"seeds\")"),
        ]);
    }

    /// <summary>The row's mask, relative to the benchmark folder; without one, masks/{brand}.png.</summary>
    static string MaskPath(string folder, Row row)
    {
        string relative = row.Mask ?? (row.Brand is { } b ? Path.Combine("masks", b + ".png")
            : throw new DejaException($"--benchmark {folder}: template caption \"{row.Caption}\" has neither \"mask\" nor \"brand\" in replicate.jsonl"));
        return Path.Combine(folder, relative);
    }

    /// <summary>The benchmark's template masks, evaluated or not: those its template rows name, else every
    /// masks/*.png. Their size is the benchmark's image size, for all-ones/zeros masks when no template
    /// sample is evaluated.</summary>
    static IEnumerable<BinaryMask> OtherTemplateMasks(string folder, IEnumerable<Row> rows)
    {
        var cache = new LocalizationTruth.MaskCache();
        var named = rows.Where(r => r.Kind == "template" && (r.Mask is not null || r.Brand is not null))
            .Select(r => MaskPath(folder, r)).Where(File.Exists).Distinct().ToList();
        var masks = Path.Combine(folder, "masks");
        if (named.Count == 0 && Directory.Exists(masks)) named = [.. Directory.EnumerateFiles(masks, "*.png").Order(StringComparer.Ordinal)];
        return named.Select(cache.Get);
    }

    static HashSet<string> ReadList(string path)
    {
        if (!File.Exists(path)) throw new DejaException($"--benchmark: {path} does not exist");
        return [.. File.ReadLines(path).Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0)];
    }

    static Dictionary<string, Row> ReadRows(string path)
    {
        if (!File.Exists(path)) throw new DejaException($"--benchmark: {path} does not exist");
        var rows = new Dictionary<string, Row>(StringComparer.Ordinal);
        foreach (var (o, where) in JsonFields.Objects(path))
        {
            string caption = JsonFields.String(o, "caption", where);
            List<int>? seeds = null;
            if (o.TryGetProperty("seeds", out var s) && s.ValueKind != JsonValueKind.Null)
            {
                if (s.ValueKind != JsonValueKind.Array) throw new DejaException($"{where}: \"seeds\" must be an array of generation numbers");
                seeds = [];
                foreach (var v in s.EnumerateArray())
                {
                    if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int g) || g < 0)
                        throw new DejaException($"{where}: \"seeds\" must hold non-negative integers, found {v.GetRawText()}");
                    seeds.Add(g);
                }
            }
            var row = new Row(caption, JsonFields.String(o, "kind", where), JsonFields.OptionalString(o, "brand", where),
                JsonFields.OptionalString(o, "mask", where), seeds);
            if (!rows.TryAdd(caption, row)) throw new DejaException($"{where}: caption \"{caption}\" appears twice in replicate.jsonl");
        }
        return rows;
    }
}
