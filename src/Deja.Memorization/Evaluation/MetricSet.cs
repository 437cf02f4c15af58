namespace Deja.Memorization.Evaluation;

/// <summary>
/// The reported metrics of one ROC. TPRs come in three definitions (METHODS.md §0.7.2): "AtMost" is
/// Deja's headline (the largest FPR ≤ the target), "Closest" is J's and A's, "LastBelow" is W's; numbers
/// are only comparable within one definition.
/// </summary>
public readonly record struct MetricSet(
    double Auc,
    double TprAt1AtMost,
    double TprAt3AtMost,
    double TprAt1Closest,
    double TprAt3Closest,
    double TprAt1LastBelow,
    double TprAt3LastBelow,
    double BalancedAccuracy)
{
    public static MetricSet Of(RocCurve roc) => Of(roc, DetectionMetrics.Auc(roc));

    /// <summary>The metrics of a curve with a given AUC (J's flip reports 1 − AUC of the unflipped curve).</summary>
    public static MetricSet Of(RocCurve roc, double auc) => new(
        auc,
        DetectionMetrics.TprAtFprAtMost(roc, 0.01),
        DetectionMetrics.TprAtFprAtMost(roc, 0.03),
        DetectionMetrics.TprAtFprClosest(roc, 0.01),
        DetectionMetrics.TprAtFprClosest(roc, 0.03),
        DetectionMetrics.TprAtFprLastBelow(roc, 0.01),
        DetectionMetrics.TprAtFprLastBelow(roc, 0.03),
        DetectionMetrics.BestBalancedAccuracy(roc));

    /// <summary>The metrics in a fixed order, with their names (for tables, JSON and percentiles).</summary>
    public static readonly string[] Names =
    [
        "auc", "tpr_at_1_at_most", "tpr_at_3_at_most", "tpr_at_1_closest", "tpr_at_3_closest",
        "tpr_at_1_last_below", "tpr_at_3_last_below", "balanced_accuracy",
    ];

    /// <summary>What each metric of <see cref="Names"/> is, in the same order (written into eval's JSON).</summary>
    public static readonly string[] Definitions =
    [
        "area under the ROC (trapezoidal, as sklearn)",
        "headline: TPR at the largest ROC FPR <= 1% (never a point above the target)",
        "headline: TPR at the largest ROC FPR <= 3% (never a point above the target)",
        "J, A: TPR of the ROC point closest to FPR 1%, first on ties (may exceed the target; 0 for a perfect detector)",
        "J, A: TPR of the ROC point closest to FPR 3%, first on ties (may exceed the target; 0 for a perfect detector)",
        "W: TPR of the last ROC point with FPR < 1%",
        "W: TPR of the last ROC point with FPR < 3%",
        "W: best balanced accuracy over the ROC points",
    ];

    public double[] ToArray() =>
        [Auc, TprAt1AtMost, TprAt3AtMost, TprAt1Closest, TprAt3Closest, TprAt1LastBelow, TprAt3LastBelow, BalancedAccuracy];

    public static MetricSet FromArray(ReadOnlySpan<double> v) => new(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
}
