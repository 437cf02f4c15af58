using System.Text.Json;
using Deja.Tensors;

namespace Deja.Memorization.Localization;

/// <summary>
/// Ground truth for real data: a JSONL file of <c>{"index", "generation", "mask", "kind"?}</c> rows, where
/// mask is a PNG path (relative to the file's folder), "ones" or "zeros". A PNG mask, or kind "template"
/// (or K's "TV"), puts the sample in the TV set. As in K (METHODS.md §4.7.1) one generation may appear in
/// several rows with different masks (a seed matched to two templates gives two samples); the same row
/// twice is refused. Localize samples without a row are left out and counted.
/// </summary>
public static class MaskFileTruth
{
    /// <summary>K's mask resolution, for all-ones/zeros masks when no PNG mask and no --mask-size says otherwise.</summary>
    public const int DefaultSize = 256;

    public static LocalizationTruth Build(string path, IReadOnlyList<LocalizedPrompt> prompts, int? maskSize)
    {
        if (!File.Exists(path)) throw new DejaException($"--masks {path} does not exist");
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var byIndex = prompts.ToDictionary(p => p.Index);
        var cache = new LocalizationTruth.MaskCache();
        var rows = new List<(LocalizedPrompt Prompt, int Generation, TruthKind Kind, string Mask, BinaryMask? Png)>();
        var seen = new HashSet<(int, int, string)>();
        foreach (var (o, where) in JsonFields.Objects(path))
        {
            int index = JsonFields.Int(o, "index", where), generation = JsonFields.Int(o, "generation", where);
            string mask = JsonFields.String(o, "mask", where);
            string? kind = JsonFields.OptionalString(o, "kind", where);
            if (!byIndex.TryGetValue(index, out var prompt))
                throw new DejaException($"{where}: prompt index {index} is not in {LocalizationMaps.PromptsFile}");
            if (!prompt.Generations.Contains(generation))
                throw new DejaException($"{where}: prompt {index} has no generation {generation} in {LocalizationMaps.PromptsFile} " +
                                        $"(it has {string.Join(", ", prompt.Generations)})");
            if (!seen.Add((index, generation, mask)))
                throw new DejaException($"{where}: prompt {index}, generation {generation} with mask \"{mask}\" is given twice");
            bool template = kind is not null && (kind.Equals("template", StringComparison.OrdinalIgnoreCase) || kind.Equals("tv", StringComparison.OrdinalIgnoreCase));
            if (mask is "ones" or "zeros")
                rows.Add((prompt, generation, template ? TruthKind.Template : mask == "ones" ? TruthKind.Ones : TruthKind.Zeros, mask, null));
            else
                rows.Add((prompt, generation, TruthKind.Template, mask, cache.Get(Path.Combine(folder, mask))));
        }
        if (rows.Count == 0) throw new DejaException($"--masks {path} has no rows");

        var pngSize = LocalizationTruth.CommonSize(rows.Where(r => r.Png is not null).Select(r => r.Png!), $"--masks {path}");
        LocalizationTruth.CheckMaskSize(maskSize, pngSize, "PNG");
        var (height, width) = pngSize ?? (maskSize ?? DefaultSize, maskSize ?? DefaultSize);
        var ones = BinaryMask.Ones(height, width);
        var zeros = BinaryMask.Zeros(height, width);
        var samples = rows.Select(r => new LocalizationSample(r.Prompt.Index, r.Generation, r.Prompt.Prompt, r.Kind,
            r.Png ?? (r.Mask == "ones" ? ones : zeros))).ToList();
        var covered = rows.Select(r => (r.Prompt.Index, r.Generation)).ToHashSet();
        int without = prompts.Sum(p => p.Generations.Count(g => !covered.Contains((p.Index, g))));
        return new LocalizationTruth(samples, height, width,
            [("generations_without_mask", without, "mapped generations with no row in the --masks file")]);
    }
}
