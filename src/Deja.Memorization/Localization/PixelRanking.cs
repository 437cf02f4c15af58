namespace Deja.Memorization.Localization;

/// <summary>
/// Pixel-level ROC-AUC and average precision (METHODS.md §4.7.7, beyond K) over every pixel of a set,
/// scored by its normalised value n and labelled by its mask, exactly as scikit-learn's
/// <c>roc_auc_score</c> (trapezoids over one point per distinct score: a tie counts ½) and
/// <c>average_precision_score</c> (Σ (R_k − R_{k−1}) P_k over the distinct scores, descending, no
/// interpolation). Pixels are sorted once; a bootstrap resample is a weight per prompt, which gives
/// the same numbers as duplicating that prompt's pixels, in one linear pass.
/// </summary>
internal sealed class PixelRanking
{
    // Runs of equal (score, prompt, label) in descending score order: item = prompt·2 + label.
    readonly int[] items, counts;
    readonly bool[] groupStarts;

    PixelRanking(int[] items, int[] counts, bool[] groupStarts) { this.items = items; this.counts = counts; this.groupStarts = groupStarts; }

    /// <summary>A pixel's sort key: the score's bits above the prompt and label, so equal scores stay
    /// together and equal pixels of one prompt form one run. Scores must be finite and ≥ 0, where the
    /// float bit pattern is ordered like the value; −0 is folded into +0 (they are the same score).</summary>
    public static ulong Key(float score, int prompt, bool positive)
    {
        if (!(score >= 0) || float.IsInfinity(score)) throw new ArgumentOutOfRangeException(nameof(score), $"pixel ranking: score {score} is not finite and ≥ 0");
        if (score == 0) score = 0f;
        return ((ulong)BitConverter.SingleToUInt32Bits(score) << 32) | (uint)(prompt * 2 + (positive ? 1 : 0));
    }

    /// <summary>Builds the ranking from pixel keys (sorted in place). The runs are counted first so the
    /// arrays are allocated once at their size (a K-sized set has ~10⁸ pixels).</summary>
    public static PixelRanking Build(ulong[] keys)
    {
        Array.Sort(keys);
        int runs = 0;
        for (int i = 0; i < keys.Length; i++) if (i == 0 || keys[i] != keys[i - 1]) runs++;
        var items = new int[runs];
        var counts = new int[runs];
        var starts = new bool[runs];
        int r = -1;
        for (int i = keys.Length - 1; i >= 0; i--)
        {
            ulong k = keys[i];
            bool last = i + 1 == keys.Length;
            if (!last && keys[i + 1] == k) { counts[r]++; continue; }
            r++;
            items[r] = (int)(uint)k;
            counts[r] = 1;
            starts[r] = last || keys[i + 1] >> 32 != k >> 32; // a new distinct score: one ROC / PR point
        }
        return new PixelRanking(items, counts, starts);
    }

    /// <summary>AUC and AP with each prompt's pixels counted <paramref name="weights"/>[prompt] times
    /// (empty: once). NaN when the weighted pixels lack a class.</summary>
    public (double Auc, double Ap) Evaluate(ReadOnlySpan<int> weights)
    {
        double tp = 0, fp = 0, tpPrev = 0, fpPrev = 0, area = 0, precisionSum = 0;
        for (int r = 0; r < items.Length; r++)
        {
            if (groupStarts[r] && r > 0 && (tp != tpPrev || fp != fpPrev))
            {
                // Close the previous distinct score: one ROC / PR point.
                area += (fp - fpPrev) * (tp + tpPrev) / 2;
                precisionSum += (tp - tpPrev) * (tp / (tp + fp));
                tpPrev = tp; fpPrev = fp;
            }
            int item = items[r];
            double w = (weights.IsEmpty ? 1 : weights[item >> 1]) * (double)counts[r];
            if ((item & 1) != 0) tp += w; else fp += w;
        }
        if (tp != tpPrev || fp != fpPrev)
        {
            area += (fp - fpPrev) * (tp + tpPrev) / 2;
            precisionSum += (tp - tpPrev) * (tp / (tp + fp));
        }
        double auc = tp > 0 && fp > 0 ? area / (tp * fp) : double.NaN;
        double ap = tp > 0 ? precisionSum / tp : double.NaN;
        return (auc, ap);
    }
}
