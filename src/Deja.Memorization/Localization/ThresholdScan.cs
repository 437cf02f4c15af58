namespace Deja.Memorization.Localization;

/// <summary>
/// K's threshold scan (METHODS.md §4.7.4): θ = numpy.linspace(−1e-6, 1 + 1e-6, 101), pred = n &gt; θ,
/// and at every θ the global IoU Σ∩/Σ∪, the mean per-sample IoU (1 for an empty union) and the pixel
/// accuracy. Pixels are binned once by how many thresholds lie below them, so a sample is reduced to
/// 101 counts per quantity and any set of prompts, weighted (a bootstrap resample, a split half), is a
/// weighted sum of per-prompt rows.
/// </summary>
public static class ThresholdScan
{
    public const int Count = 101;

    /// <summary>The thresholds, bit for bit numpy's linspace: j·step + start, the last set to stop.</summary>
    public static readonly double[] Thresholds = Linspace(-1e-6, 1 + 1e-6, Count);

    static double[] Linspace(double start, double stop, int num)
    {
        double step = (stop - start) / (num - 1);
        var y = new double[num];
        for (int j = 0; j < num; j++) y[j] = j * step + start;
        y[num - 1] = stop;
        return y;
    }

    /// <summary>How many thresholds lie strictly below <paramref name="n"/>: the pixel is predicted
    /// positive exactly at θ_j for j &lt; level. The comparison is in double, as numpy 2 compares a
    /// float32 map with float64 thresholds.</summary>
    public static int Level(float n)
    {
        int i = Array.BinarySearch(Thresholds, (double)n);
        return i >= 0 ? i : ~i; // an exact hit θ_i = n is not below n
    }
}

/// <summary>The three per-threshold curves of a set of samples (index j ↔ <see cref="ThresholdScan.Thresholds"/>[j]).</summary>
public sealed record ScanCurves(double[] Iou, double[] MIou, double[] Accuracy)
{
    /// <summary>The maximum over θ and the first θ index attaining it (numpy argmax), NaN entries ignored.</summary>
    public static (double Value, int Index) Max(double[] curve)
    {
        int best = -1;
        for (int j = 0; j < curve.Length; j++)
            if (!double.IsNaN(curve[j]) && (best < 0 || curve[j] > curve[best])) best = j;
        return best < 0 ? (double.NaN, -1) : (curve[best], best);
    }
}

/// <summary>
/// Per-prompt sums of the scan's counts: intersections, unions and correct pixels per θ, the sum of the
/// per-sample IoUs per θ, and the sample and pixel counts.
/// </summary>
internal sealed class ScanTable
{
    const int T = ThresholdScan.Count;
    readonly long[] intersection, union, correct, samples, pixels;
    readonly double[] iouSum;

    public int Prompts { get; }

    public ScanTable(int prompts)
    {
        Prompts = prompts;
        intersection = new long[prompts * T]; union = new long[prompts * T]; correct = new long[prompts * T];
        iouSum = new double[prompts * T];
        samples = new long[prompts]; pixels = new long[prompts];
    }

    /// <summary>Adds one sample from its histograms of levels (index = number of thresholds below the
    /// pixel, 0…<see cref="ThresholdScan.Count"/>) over the positive and the negative pixels.</summary>
    public void Add(int prompt, ReadOnlySpan<long> positiveLevels, ReadOnlySpan<long> negativeLevels)
    {
        long p = 0, n = 0;
        foreach (var c in positiveLevels) p += c;
        foreach (var c in negativeLevels) n += c;
        // pred at θ_j = pixels with level > j; walk j downwards accumulating from the top level.
        long tp = 0, fp = 0;
        int row = prompt * T;
        for (int j = T - 1; j >= 0; j--)
        {
            tp += positiveLevels[j + 1];
            fp += negativeLevels[j + 1];
            long u = p + fp; // |pred ∪ gt| = TP + FP + FN
            intersection[row + j] += tp;
            union[row + j] += u;
            correct[row + j] += tp + (n - fp);
            iouSum[row + j] += u == 0 ? 1.0 : (double)tp / u; // K: an empty union is a perfect sample
        }
        samples[prompt]++;
        pixels[prompt] += p + n;
    }

    public long SamplesOf(int prompt) => samples[prompt];

    /// <summary>The curves of the prompts weighted by <paramref name="weights"/> (null: every prompt once).
    /// Global IoU 0/0 reads 1, as K; no sample at all gives NaN curves.</summary>
    public ScanCurves Curves(ReadOnlySpan<int> weights)
    {
        var inter = new double[T];
        var uni = new double[T];
        var corr = new double[T];
        var iou = new double[T];
        double sampleCount = 0, pixelCount = 0;
        for (int p = 0; p < Prompts; p++)
        {
            int w = weights.IsEmpty ? 1 : weights[p];
            if (w == 0 || samples[p] == 0) continue;
            sampleCount += w * (double)samples[p];
            pixelCount += w * (double)pixels[p];
            int row = p * T;
            for (int j = 0; j < T; j++)
            {
                inter[j] += w * (double)intersection[row + j];
                uni[j] += w * (double)union[row + j];
                corr[j] += w * (double)correct[row + j];
                iou[j] += w * iouSum[row + j];
            }
        }
        var globalIou = new double[T];
        var meanIou = new double[T];
        var accuracy = new double[T];
        for (int j = 0; j < T; j++)
        {
            globalIou[j] = sampleCount == 0 ? double.NaN : uni[j] == 0 ? 1.0 : inter[j] / uni[j];
            meanIou[j] = sampleCount == 0 ? double.NaN : iou[j] / sampleCount;
            accuracy[j] = pixelCount == 0 ? double.NaN : corr[j] / pixelCount;
        }
        return new ScanCurves(globalIou, meanIou, accuracy);
    }
}
