namespace Deja.Memorization.Detection;

/// <summary>The detectors by name, and the parsing of their shared options.</summary>
public static class DetectorOptions
{
    /// <summary>The methods "all" stands for: the cheap detectors (a few model calls per batch each).</summary>
    public static IReadOnlyList<string> Methods { get; } = ["anisotropy", "magnitude", "sharpness"];

    /// <summary>
    /// Every method that can be named: <see cref="Methods"/>, and bright-ending (Bright Ending's masked
    /// magnitude, a whole 50-step trajectory per batch, so not part of "all").
    /// </summary>
    public static IReadOnlyList<string> Known { get; } = [.. Methods, "bright-ending"];

    static string Choices => $"use {string.Join(", ", Known)}, or all for {string.Join(", ", Methods)}";

    /// <summary>A detector with the reference code's defaults.</summary>
    public static IMemorizationDetector Default(string method) => method.Trim().ToLowerInvariant() switch
    {
        "anisotropy" => new AnisotropyDetector(),
        "magnitude" => new MagnitudeDetector(),
        "sharpness" => new SharpnessDetector(),
        "bright-ending" => new BrightEndingDetector(),
        _ => throw new ArgumentException($"unknown detection method '{method}' ({Choices})"),
    };

    /// <summary>"all" (<see cref="Methods"/>) or a comma-separated list of <see cref="Known"/> method names, each at most once, in the order given.</summary>
    public static string[] ParseMethods(string text)
    {
        if (text.Trim().Equals("all", StringComparison.OrdinalIgnoreCase)) return [.. Methods];
        var names = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s => s.ToLowerInvariant()).ToArray();
        if (names.Length == 0) throw new ArgumentException("no detection method given");
        foreach (var n in names) if (!Known.Contains(n)) throw new ArgumentException($"unknown detection method '{n}' ({Choices})");
        if (names.Distinct().Count() != names.Length) throw new ArgumentException($"a detection method is named twice in '{text}'");
        return names;
    }

    public static SeedPolicy ParsePolicy(string text) => text.Trim().ToLowerInvariant() switch
    {
        "same" => SeedPolicy.Same,
        "index" => SeedPolicy.Index,
        _ => throw new ArgumentException($"unknown seed policy '{text}' (use same: one seed for every prompt, or index: seed = prompt index + --seed)"),
    };
}
