namespace Deja.Memorization.Evaluation;

/// <summary>
/// A ROC curve exactly as scikit-learn 1.6 <c>roc_curve(y, score, drop_intermediate=True)</c> gives it
/// (METHODS.md §0.7.1): one point per distinct score (threshold "score ≥ value"), collinear interior
/// points dropped, and a first point (0, 0) with threshold +∞. Label true = memorized = positive,
/// higher score = more memorized.
/// </summary>
public sealed class RocCurve
{
    public double[] Fpr { get; }
    public double[] Tpr { get; }

    /// <summary>Threshold of each point (predict positive when score ≥ threshold); the first is +∞.</summary>
    public double[] Thresholds { get; }

    public int Positives { get; }
    public int Negatives { get; }

    RocCurve(double[] fpr, double[] tpr, double[] thresholds, int positives, int negatives)
    {
        Fpr = fpr; Tpr = tpr; Thresholds = thresholds; Positives = positives; Negatives = negatives;
    }

    /// <summary>The ROC of labelled scores. Throws ArgumentException for mismatched lengths, no samples,
    /// a missing class, or a non-finite score.</summary>
    public static RocCurve Compute(ReadOnlySpan<bool> labels, ReadOnlySpan<double> scores)
    {
        var ranked = new RankedScores(labels, scores);
        return FromGroups(ranked.Values, ranked.PositivesPerGroup, ranked.NegativesPerGroup);
    }

    /// <summary>Labels as 0/1 integers (1 = memorized), as sklearn takes them.</summary>
    public static RocCurve Compute(ReadOnlySpan<int> labels, ReadOnlySpan<double> scores)
    {
        var flags = new bool[labels.Length];
        for (int i = 0; i < labels.Length; i++)
            flags[i] = labels[i] switch
            {
                0 => false,
                1 => true,
                _ => throw new ArgumentException($"ROC: label {i} is {labels[i]}; labels must be 0 or 1"),
            };
        return Compute(flags, scores);
    }

    /// <summary>
    /// The curve from per-distinct-value class counts (values descending). Groups with no samples are
    /// skipped, so a bootstrap resample given as counts yields the same curve as the duplicated rows would.
    /// </summary>
    internal static RocCurve FromGroups(ReadOnlySpan<double> values, ReadOnlySpan<int> positives, ReadOnlySpan<int> negatives)
    {
        // Cumulative counts at each threshold index (the last sample of each run of equal scores).
        var tps = new List<long>(values.Length);
        var fps = new List<long>(values.Length);
        var thr = new List<double>(values.Length);
        long tp = 0, fp = 0;
        for (int g = 0; g < values.Length; g++)
        {
            if (positives[g] + negatives[g] == 0) continue;
            tp += positives[g]; fp += negatives[g];
            tps.Add(tp); fps.Add(fp); thr.Add(values[g]);
        }
        if (tp == 0 || fp == 0)
            throw new ArgumentException($"ROC: need both classes, got {tp} positive(s) and {fp} negative(s)");

        // drop_intermediate: keep the ends and every point where either count's second difference is
        // non-zero, i.e. drop interior points on a straight segment (they change neither the AUC nor
        // the corners). Counts are integers, so the test is exact.
        int m = tps.Count;
        var keep = new List<int>(m);
        for (int j = 0; j < m; j++)
        {
            bool interior = m > 2 && j > 0 && j < m - 1;
            if (!interior
                || fps[j + 1] - 2 * fps[j] + fps[j - 1] != 0
                || tps[j + 1] - 2 * tps[j] + tps[j - 1] != 0)
                keep.Add(j);
        }

        int k = keep.Count + 1;
        var fpr = new double[k];
        var tpr = new double[k];
        var thresholds = new double[k];
        thresholds[0] = double.PositiveInfinity; // sklearn ≥ 1.3 (older versions used max + 1)
        for (int i = 0; i < keep.Count; i++)
        {
            int j = keep[i];
            fpr[i + 1] = (double)fps[j] / fp;
            tpr[i + 1] = (double)tps[j] / tp;
            thresholds[i + 1] = thr[j];
        }
        return new RocCurve(fpr, tpr, thresholds, (int)tp, (int)fp);
    }
}
