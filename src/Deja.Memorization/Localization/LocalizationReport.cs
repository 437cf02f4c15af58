namespace Deja.Memorization.Localization;

/// <summary>Settings of a localization evaluation.</summary>
public sealed record LocalizationOptions
{
    /// <summary>Bootstrap resamples of the prompts for the intervals; 0 skips the bootstrap.</summary>
    public int BootstrapResamples { get; init; } = 1000;

    /// <summary>Seed of the bootstrap.</summary>
    public ulong Seed { get; init; }

    /// <summary>Seed of the 50 % prompt split of the held-out threshold.</summary>
    public ulong SplitSeed { get; init; }

    /// <summary>Two-sided percentile interval level.</summary>
    public double Confidence { get; init; } = 0.95;
}

/// <summary>A metric: its value, the threshold it was read at (threshold metrics only) and its
/// percentile bootstrap interval (null without a bootstrap).</summary>
public sealed record Estimate(double Value, double? Threshold = null, double? Low = null, double? High = null);

/// <summary>Global IoU (Σ∩/Σ∪), mIoU (mean per-sample IoU) and pixel accuracy, each at its own threshold.</summary>
public sealed record ThresholdMetrics(Estimate Iou, Estimate MIou, Estimate Accuracy)
{
    public static readonly string[] Names = ["iou", "miou", "accuracy"];

    public Estimate this[int i] => i switch { 0 => Iou, 1 => MIou, 2 => Accuracy, _ => throw new ArgumentOutOfRangeException(nameof(i)) };
}

/// <summary>The non-oracle threshold: chosen per metric on half A of the prompts, scored on half B.</summary>
public sealed record HeldOutThreshold(int PromptsA, int PromptsB, ThresholdMetrics Metrics);

/// <summary>One map (or the all-ones baseline) on one set.</summary>
public sealed record MapEvaluation(
    string Map,
    bool Baseline,
    int Samples,
    int Prompts,
    int SkippedNonFinite,
    double NormalisationMin,
    double NormalisationMax,
    long PositivePixels,
    long NegativePixels,
    ThresholdMetrics? Oracle,
    ScanCurves? Curves,
    HeldOutThreshold? HeldOut,
    Estimate? PixelAuc,
    Estimate? PixelAp,
    IReadOnlyList<string> Notes);

/// <summary>One evaluated set ("tv" = TV only, "all" = ALL unbalanced) and its maps.</summary>
public sealed record SetEvaluation(string Name, string Label, int Samples, int Prompts, long PositivePixels, long NegativePixels,
                                   IReadOnlyList<MapEvaluation> Maps);

/// <summary>Everything `deja eval-localize` reports.</summary>
public sealed record LocalizationReport(int MaskHeight, int MaskWidth, LocalizationOptions Options, IReadOnlyList<SetEvaluation> Sets);
