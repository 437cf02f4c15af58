using Deja.Tensors;

namespace Deja.Memorization.Localization;

/// <summary>What a sample's ground truth is (METHODS.md §4.7.1): a template region (K's TV samples), a
/// whole memorized image (K's MV/RV: all ones) or a non-memorized prompt (K's Nmem: all zeros).</summary>
public enum TruthKind { Template, Ones, Zeros }

/// <summary>One evaluated (prompt, generation) with its ground-truth mask; the prompt index is the
/// bootstrap and split unit.</summary>
public sealed record LocalizationSample(int Index, int Generation, string Prompt, TruthKind Kind, BinaryMask Mask);

/// <summary>
/// The ground truth of a localize run: one mask per evaluated sample, all at one resolution (the maps
/// are resized to it), and what was left out and why. Built from a Deja benchmark folder
/// (<see cref="BenchmarkTruth"/>) or from a masks JSONL file for real data (<see cref="MaskFileTruth"/>).
/// </summary>
public sealed class LocalizationTruth
{
    public IReadOnlyList<LocalizationSample> Samples { get; }
    public int Height { get; }
    public int Width { get; }

    /// <summary>Left-out counts by reason (JSON name → count), for the report.</summary>
    public IReadOnlyList<(string Name, int Count, string Description)> Skipped { get; }

    public LocalizationTruth(IReadOnlyList<LocalizationSample> samples, int height, int width,
                             IReadOnlyList<(string Name, int Count, string Description)> skipped)
    {
        foreach (var s in samples)
            if (s.Mask.Height != height || s.Mask.Width != width)
                throw new ArgumentException($"truth: mask {s.Mask.Source} is {s.Mask.Height}×{s.Mask.Width}, not {height}×{width}");
        Samples = samples; Height = height; Width = width; Skipped = skipped;
    }

    /// <summary>
    /// The resolution every mask must share. PNG masks (the template regions) decide it; all-ones and
    /// all-zeros masks take it. Masks of different sizes are refused: K resizes masks to 256 with NEAREST,
    /// which would move a region's boundary, so we ask for consistent masks instead.
    /// </summary>
    internal static (int Height, int Width)? CommonSize(IEnumerable<BinaryMask> masks, string what)
    {
        BinaryMask? first = null;
        foreach (var m in masks)
        {
            if (first is null) { first = m; continue; }
            if (m.Height != first.Height || m.Width != first.Width)
                throw new DejaException($"{what}: masks of different sizes: {first.Source} is {first.Width}×{first.Height}, {m.Source} is {m.Width}×{m.Height}; " +
                                        "give masks of one size");
        }
        return first is null ? null : (first.Height, first.Width);
    }

    /// <summary>Checks an explicit --mask-size against the PNG masks' size.</summary>
    internal static void CheckMaskSize(int? maskSize, (int Height, int Width)? pngSize, string what)
    {
        if (maskSize is int n && pngSize is var (h, w) && (n != h || n != w))
            throw new DejaException($"--mask-size {n} disagrees with the {what} masks, which are {w}×{h}; leave --mask-size out or give {h}");
    }

    /// <summary>Loads each mask path once.</summary>
    internal sealed class MaskCache
    {
        readonly Dictionary<string, BinaryMask> masks = new(StringComparer.Ordinal);
        public BinaryMask Get(string path) => masks.TryGetValue(path, out var m) ? m : masks[path] = BinaryMask.Read(path);
    }
}
