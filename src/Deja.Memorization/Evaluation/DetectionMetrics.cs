namespace Deja.Memorization.Evaluation;

/// <summary>
/// The detection metrics the papers report, each under its own explicit name, because the two TPR@FPR
/// definitions in use differ (METHODS.md §0.7.2) and numbers are only comparable within one definition.
/// </summary>
public static class DetectionMetrics
{
    /// <summary>Trapezoidal area under the ROC (sklearn <c>auc</c>/<c>roc_auc_score</c>). On the
    /// sklearn curve this equals the Mann-Whitney P(score₊ &gt; score₋) + ½·P(score₊ = score₋).</summary>
    public static double Auc(RocCurve roc)
    {
        double area = 0;
        for (int i = 1; i < roc.Fpr.Length; i++)
            area += (roc.Fpr[i] - roc.Fpr[i - 1]) * (roc.Tpr[i] + roc.Tpr[i - 1]) / 2.0;
        return area;
    }

    /// <summary>
    /// Deja's headline TPR at a target FPR: the TPR at the largest ROC FPR that does not exceed the
    /// target (on a vertical segment, the highest TPR there). It never reports a point above the target,
    /// and unlike <see cref="TprAtFprClosest"/> it cannot read 0 for a perfect detector, whose curve
    /// reaches TPR 1 at FPR 0. It differs from <see cref="TprAtFprLastBelow"/> only when a point lies
    /// exactly on the target.
    /// </summary>
    public static double TprAtFprAtMost(RocCurve roc, double targetFpr)
    {
        CheckTarget(targetFpr);
        int last = 0;
        for (int i = 0; i < roc.Fpr.Length; i++)
            if (roc.Fpr[i] <= targetFpr) last = i;
        return roc.Tpr[last];
    }

    /// <summary>
    /// J's and A's TPR at a target FPR: the TPR of the FIRST point minimising |fpr − target|. The point
    /// may lie above the target; on a vertical segment (equal fpr) it takes the lowest TPR.
    /// </summary>
    public static double TprAtFprClosest(RocCurve roc, double targetFpr)
    {
        CheckTarget(targetFpr);
        int best = 0;
        double bestDistance = Math.Abs(roc.Fpr[0] - targetFpr);
        for (int i = 1; i < roc.Fpr.Length; i++)
        {
            double d = Math.Abs(roc.Fpr[i] - targetFpr);
            if (d < bestDistance) { best = i; bestDistance = d; } // strict: first index wins ties, as np.argmin
        }
        return roc.Tpr[best];
    }

    /// <summary>
    /// W's TPR at a target FPR: the TPR of the LAST point with fpr strictly below the target (never above
    /// it; on a vertical segment it takes the highest TPR). The first point (0, 0) always qualifies.
    /// </summary>
    public static double TprAtFprLastBelow(RocCurve roc, double targetFpr)
    {
        CheckTarget(targetFpr);
        int last = 0;
        for (int i = 0; i < roc.Fpr.Length; i++)
            if (roc.Fpr[i] < targetFpr) last = i;
        return roc.Tpr[last];
    }

    /// <summary>W's ACC: the best balanced accuracy 1 − (fpr + (1 − tpr))/2 over the ROC points.</summary>
    public static double BestBalancedAccuracy(RocCurve roc)
    {
        double best = double.NegativeInfinity;
        for (int i = 0; i < roc.Fpr.Length; i++)
            best = Math.Max(best, 1 - (roc.Fpr[i] + (1 - roc.Tpr[i])) / 2);
        return best;
    }

    static void CheckTarget(double targetFpr)
    {
        if (!(targetFpr > 0 && targetFpr <= 1))
            throw new ArgumentOutOfRangeException(nameof(targetFpr), $"TPR at FPR: the target FPR must be in (0, 1], got {targetFpr}");
    }
}
