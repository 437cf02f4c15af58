namespace Deja.Memorization.Replication;

/// <summary>
/// A caption to test for replication: its kind in the dataset ("verbatim", "template", "heldout", ...),
/// the template mask when only a region is memorized (pixels, H·W, true = template), and the training
/// images it is compared with (null: all of them; a template caption is compared with its brand's images).
/// </summary>
public sealed record ReplicationCase(string Caption, string Kind, bool[]? Mask = null, IReadOnlyList<int>? References = null)
{
    /// <summary>For a template caption: its brand and the mask file (relative to the dataset folder).</summary>
    public string? Brand { get; init; }
    public string? MaskFile { get; init; }
}

/// <summary>One caption's outcome: the closest any of its generations came to a training image.</summary>
public sealed record ReplicationResult(ReplicationCase Case, double MinNormalizedL2, double MaxSsim, int NearestIndex, bool ReplicatedL2, bool ReplicatedSsim, int Generations)
{
    /// <summary>Each generation's seed and normalized L2 to its nearest training image (region only for templates).</summary>
    public IReadOnlyList<(long Seed, double L2)> PerGeneration { get; init; } = [];

    /// <summary>The seeds whose generation replicates by L2: the generations that localization maps (METHODS.md §4.5).</summary>
    public IEnumerable<long> ReplicatingSeeds(double threshold) => PerGeneration.Where(g => g.L2 < threshold).Select(g => g.Seed);
}

/// <summary>
/// Ground truth by measurement, as the literature defines it (Carlini et al. 2023; Somepalli et al.
/// 2023): generate n images per caption and call the caption memorized when a generation lies within a
/// threshold of its nearest training image — normalized L2 below <see cref="L2Threshold"/>, and
/// separately SSIM above <see cref="SsimThreshold"/>; both labels are reported. Template captions are
/// judged on their template region only.
/// </summary>
public sealed class ReplicationRun
{
    public required IReadOnlyList<float[]> TrainingImages { get; init; }
    public required int Channels { get; init; }
    public required int Height { get; init; }
    public required int Width { get; init; }
    public int Generations { get; init; } = 4;
    public long Seed { get; init; } = 0;
    public double L2Threshold { get; init; } = 0.1;
    public double SsimThreshold { get; init; } = 0.8;

    /// <summary>
    /// Runs every case; <paramref name="generate"/> returns an image [C, H, W] in [0, 1] for (caption, seed).
    /// Seeds are Seed + j for generation j, the same for every caption.
    /// </summary>
    public IEnumerable<ReplicationResult> Run(IEnumerable<ReplicationCase> cases, Func<string, long, float[]> generate)
    {
        ArgumentNullException.ThrowIfNull(cases); ArgumentNullException.ThrowIfNull(generate);
        if (Generations < 1) throw new ArgumentException($"replicate: generations per caption must be at least 1, got {Generations}");
        if (TrainingImages.Count == 0) throw new ArgumentException("replicate: no training images");
        foreach (var c in cases)
        {
            var references = c.References is { Count: > 0 } r ? r.Select(i => TrainingImages[i]).ToList() : TrainingImages;
            double bestL2 = double.PositiveInfinity, bestSsim = double.NegativeInfinity;
            int nearest = -1;
            var perGeneration = new List<(long, double)>();
            for (int j = 0; j < Generations; j++)
            {
                var image = generate(c.Caption, Seed + j);
                var match = NearestNeighbour.Find(image, references, Channels, Height, Width, c.Mask);
                int index = c.References is { Count: > 0 } rr ? rr[match.Index] : match.Index;
                perGeneration.Add((Seed + j, match.NormalizedL2));
                if (match.NormalizedL2 < bestL2) { bestL2 = match.NormalizedL2; nearest = index; }
                bestSsim = Math.Max(bestSsim, match.Ssim);
            }
            yield return new ReplicationResult(c, bestL2, bestSsim, nearest, bestL2 < L2Threshold, bestSsim > SsimThreshold, Generations) { PerGeneration = perGeneration };
        }
    }

    /// <summary>Replication rates per kind: (kind, captions, replicated by L2, replicated by SSIM).</summary>
    public static IReadOnlyList<(string Kind, int Count, double RateL2, double RateSsim)> Rates(IEnumerable<ReplicationResult> results) =>
        results.GroupBy(r => r.Case.Kind)
            .Select(g => (g.Key, g.Count(), g.Count(r => r.ReplicatedL2) / (double)g.Count(), g.Count(r => r.ReplicatedSsim) / (double)g.Count()))
            .OrderBy(x => x.Key, StringComparer.Ordinal).ToList();
}
