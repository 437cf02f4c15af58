namespace Deja.Memorization.Evaluation;

/// <summary>numpy's default percentile (method="linear"), so bootstrap intervals match a Python analysis.</summary>
public static class Percentile
{
    /// <summary>The q-th percentile (q in [0, 100]) of values that are already sorted ascending.</summary>
    public static double OfSorted(ReadOnlySpan<double> sorted, double q)
    {
        if (sorted.Length == 0) throw new ArgumentException("percentile of no values");
        if (!(q >= 0 && q <= 100)) throw new ArgumentOutOfRangeException(nameof(q), $"percentile: q must be in [0, 100], got {q}");
        double position = q / 100 * (sorted.Length - 1);
        int below = Math.Min((int)Math.Floor(position), sorted.Length - 1);
        int above = Math.Min(below + 1, sorted.Length - 1);
        double gamma = position - below;
        double a = sorted[below], b = sorted[above], diff = b - a;
        // numpy's _lerp interpolates from the nearer end, which keeps the result inside [a, b] and
        // exact at the ends.
        return gamma >= 0.5 ? b - diff * (1 - gamma) : a + diff * gamma;
    }
}
