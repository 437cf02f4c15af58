using Deja.Diffusion.Text.Unicode;

namespace Deja.Diffusion.Text.Ftfy;

/// <summary>
/// A set of code points, written the way ftfy writes the character classes of its regular expressions
/// ("a-z" is a range), so that the C# sets read like the Python source they reproduce.
/// </summary>
internal sealed class CharClass
{
    // Sorted, non-overlapping, non-adjacent inclusive (first, last) pairs.
    readonly int[] ranges;

    CharClass(int[] ranges) => this.ranges = ranges;

    /// <summary>The characters of <paramref name="members"/>, where "x-y" (x, '-', y) means x through y.</summary>
    public static CharClass Of(string members)
    {
        var pairs = new List<(int, int)>();
        for (int i = 0; i < members.Length;)
        {
            int first = CodePoints.At(members, i);
            i += CodePoints.Width(first);
            if (i + 1 < members.Length && members[i] == '-')
            {
                int last = CodePoints.At(members, i + 1);
                i += 1 + CodePoints.Width(last);
                if (last < first) throw new ArgumentException($"reversed range in character class \"{members}\"");
                pairs.Add((first, last));
            }
            else pairs.Add((first, first));
        }
        return FromPairs(pairs);
    }

    /// <summary>The set of a flat (first, last, first, last, ...) range table such as those of <see cref="TextTables"/>.</summary>
    public static CharClass FromRanges(ReadOnlySpan<int> flatRanges)
    {
        var pairs = new List<(int, int)>(flatRanges.Length / 2);
        for (int i = 0; i < flatRanges.Length; i += 2) pairs.Add((flatRanges[i], flatRanges[i + 1]));
        return FromPairs(pairs);
    }

    /// <summary>Every code point except those of <paramref name="excluded"/> (a regex's [^...]).</summary>
    public static CharClass Except(CharClass excluded)
    {
        var pairs = new List<(int, int)>();
        int next = 0;
        for (int i = 0; i < excluded.ranges.Length; i += 2)
        {
            if (excluded.ranges[i] > next) pairs.Add((next, excluded.ranges[i] - 1));
            next = excluded.ranges[i + 1] + 1;
        }
        if (next <= 0x10FFFF) pairs.Add((next, 0x10FFFF));
        return FromPairs(pairs);
    }

    public static CharClass operator |(CharClass a, CharClass b)
    {
        var pairs = new List<(int, int)>();
        for (int i = 0; i < a.ranges.Length; i += 2) pairs.Add((a.ranges[i], a.ranges[i + 1]));
        for (int i = 0; i < b.ranges.Length; i += 2) pairs.Add((b.ranges[i], b.ranges[i + 1]));
        return FromPairs(pairs);
    }

    public bool Contains(int codePoint) => CodePointRanges.Contains(ranges, codePoint);

    static CharClass FromPairs(List<(int First, int Last)> pairs)
    {
        pairs.Sort();
        var merged = new List<int>(pairs.Count * 2);
        foreach (var (first, last) in pairs)
        {
            if (merged.Count > 0 && first <= merged[^1] + 1)
                merged[^1] = Math.Max(merged[^1], last);
            else
            {
                merged.Add(first);
                merged.Add(last);
            }
        }
        return new CharClass([.. merged]);
    }
}
