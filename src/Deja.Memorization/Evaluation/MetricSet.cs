namespace Deja.Memorization.Evaluation;

/// <summary>
/// The reported metrics of one ROC. TPRs come in both definitions (METHODS.md §0.7.2): "Closest" is J's
/// and A's, "LastBelow" is W's; they are not comparable with each other.
/// </summary>
public readonly record struct MetricSet(
    double Auc,
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
        DetectionMetrics.TprAtFprClosest(roc, 0.01),
        DetectionMetrics.TprAtFprClosest(roc, 0.03),
        DetectionMetrics.TprAtFprLastBelow(roc, 0.01),
        DetectionMetrics.TprAtFprLastBelow(roc, 0.03),
        DetectionMetrics.BestBalancedAccuracy(roc));

    /// <summary>The metrics in a fixed order, with their names (for tables, JSON and percentiles).</summary>
    public static readonly string[] Names =
        ["auc", "tpr_at_1_closest", "tpr_at_3_closest", "tpr_at_1_last_below", "tpr_at_3_last_below", "balanced_accuracy"];

    public double[] ToArray() => [Auc, TprAt1Closest, TprAt3Closest, TprAt1LastBelow, TprAt3LastBelow, BalancedAccuracy];

    public static MetricSet FromArray(ReadOnlySpan<double> v) => new(v[0], v[1], v[2], v[3], v[4], v[5]);
}
