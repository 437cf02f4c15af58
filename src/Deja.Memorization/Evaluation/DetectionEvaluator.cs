using Deja.Tensors;
using Deja.Tensors.Kernels;

namespace Deja.Memorization.Evaluation;

public sealed record EvaluationOptions
{
    /// <summary>J's label flip: when AUC &lt; 0.5, flip the labels (AUC := 1 − AUC) before the TPRs.
    /// Off by default: A's reported combined score is not flipped (METHODS.md §0.7.2, §6 A7).</summary>
    public bool FlipIfBelowHalf { get; init; }

    /// <summary>Bootstrap resamples for the confidence intervals; 0 skips the bootstrap.</summary>
    public int BootstrapResamples { get; init; } = 1000;

    public ulong Seed { get; init; }

    /// <summary>Two-sided percentile interval level.</summary>
    public double Confidence { get; init; } = 0.95;
}

/// <summary>The metrics of one score column with percentile bootstrap intervals.</summary>
public sealed record DetectionEvaluation(
    int Positives,
    int Negatives,
    bool Flipped,
    RocCurve Roc,
    MetricSet Point,
    MetricSet? Low,
    MetricSet? High,
    int Resamples);

public static class DetectionEvaluator
{
    public static DetectionEvaluation Evaluate(ReadOnlySpan<bool> labels, ReadOnlySpan<double> scores, EvaluationOptions? options = null)
    {
        options ??= new EvaluationOptions();
        if (options.BootstrapResamples < 0)
            throw new ArgumentOutOfRangeException(nameof(options), $"bootstrap: resamples must be ≥ 0, got {options.BootstrapResamples}");
        if (!(options.Confidence > 0 && options.Confidence < 1))
            throw new ArgumentOutOfRangeException(nameof(options), $"bootstrap: confidence must be in (0, 1), got {options.Confidence}");

        var ranked = new RankedScores(labels, scores);
        var roc = RocCurve.FromGroups(ranked.Values, ranked.PositivesPerGroup, ranked.NegativesPerGroup);
        double auc = DetectionMetrics.Auc(roc);
        // The flip is decided once, on all data, and applied to every resample: deciding per resample
        // would fold the AUC distribution at 0.5 and bias the interval.
        bool flip = options.FlipIfBelowHalf && auc < 0.5;
        var point = Metrics(ranked.Values, ranked.PositivesPerGroup, ranked.NegativesPerGroup, flip);
        var usedRoc = flip ? RocCurve.FromGroups(ranked.Values, ranked.NegativesPerGroup, ranked.PositivesPerGroup) : roc;

        if (options.BootstrapResamples == 0)
            return new DetectionEvaluation(ranked.Positives, ranked.Negatives, flip, usedRoc, point, null, null, 0);

        var samples = Resample(ranked, labels, options.BootstrapResamples, options.Seed, flip);
        double tail = (1 - options.Confidence) / 2 * 100;
        var low = new double[MetricSet.Names.Length];
        var high = new double[MetricSet.Names.Length];
        var column = new double[samples.Length];
        for (int m = 0; m < low.Length; m++)
        {
            for (int b = 0; b < samples.Length; b++) column[b] = samples[b][m];
            Array.Sort(column);
            low[m] = Percentile.OfSorted(column, tail);
            high[m] = Percentile.OfSorted(column, 100 - tail);
        }
        return new DetectionEvaluation(ranked.Positives, ranked.Negatives, flip, usedRoc, point,
            MetricSet.FromArray(low), MetricSet.FromArray(high), options.BootstrapResamples);
    }

    /// <summary>Metrics from class counts per distinct score; a flip swaps the counts (labels 1 − y).</summary>
    static MetricSet Metrics(double[] values, int[] positives, int[] negatives, bool flip)
    {
        var roc = RocCurve.FromGroups(values, positives, negatives);
        double auc = DetectionMetrics.Auc(roc);
        if (!flip) return MetricSet.Of(roc, auc);
        return MetricSet.Of(RocCurve.FromGroups(values, negatives, positives), 1 - auc);
    }

    /// <summary>
    /// Stratified bootstrap: positives and negatives are each resampled with replacement to their own
    /// size, so every resample has both classes. Each resample has its own generator, forked in order
    /// from the seed before any work starts, so the result does not depend on the thread count.
    /// </summary>
    static double[][] Resample(RankedScores ranked, ReadOnlySpan<bool> labels, int count, ulong seed, bool flip)
    {
        var positiveGroups = new List<int>();
        var negativeGroups = new List<int>();
        for (int i = 0; i < labels.Length; i++)
            (labels[i] ? positiveGroups : negativeGroups).Add(ranked.GroupOf[i]);
        int[] pos = [.. positiveGroups], neg = [.. negativeGroups];

        var root = new Generator(seed);
        var generators = new Generator[count];
        for (int b = 0; b < count; b++) generators[b] = root.Fork();

        var results = new double[count][];
        int groups = ranked.Values.Length;
        Threading.For(count, b =>
        {
            var g = generators[b];
            var posCounts = new int[groups];
            var negCounts = new int[groups];
            for (int i = 0; i < pos.Length; i++) posCounts[pos[g.NextInt(pos.Length)]]++;
            for (int i = 0; i < neg.Length; i++) negCounts[neg[g.NextInt(neg.Length)]]++;
            results[b] = Metrics(ranked.Values, posCounts, negCounts, flip).ToArray();
        });
        return results;
    }
}
