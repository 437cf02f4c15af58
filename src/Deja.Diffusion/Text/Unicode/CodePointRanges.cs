namespace Deja.Diffusion.Text.Unicode;

/// <summary>Membership tests on the sorted inclusive range lists of <see cref="TextTables"/>.</summary>
internal static class CodePointRanges
{
    /// <summary>True when <paramref name="codePoint"/> lies in one of the (first, last) pairs of <paramref name="ranges"/>.</summary>
    public static bool Contains(ReadOnlySpan<int> ranges, int codePoint)
    {
        int lo = 0, hi = ranges.Length / 2 - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            if (codePoint < ranges[2 * mid]) hi = mid - 1;
            else if (codePoint > ranges[2 * mid + 1]) lo = mid + 1;
            else return true;
        }
        return false;
    }

    /// <summary>Index of <paramref name="value"/> in the sorted <paramref name="sorted"/>, or -1.</summary>
    public static int IndexOf(ReadOnlySpan<int> sorted, int value)
    {
        int i = sorted.BinarySearch(value);
        return i >= 0 ? i : -1;
    }
}
