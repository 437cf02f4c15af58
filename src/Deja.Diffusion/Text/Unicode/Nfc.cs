using System.Text;

namespace Deja.Diffusion.Text.Unicode;

/// <summary>
/// Unicode NFC normalization with Python 3.11's data (Unicode 14). <c>string.Normalize</c> cannot be
/// used: under InvariantGlobalization it returns non-ASCII text unchanged, and otherwise its result
/// depends on the machine's ICU version.
/// </summary>
internal static class Nfc
{
    const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
    const int LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount, SCount = LCount * NCount;

    static readonly Lazy<Data> data = new(Data.Build);

    /// <summary>Returns the NFC form of <paramref name="text"/> (the same instance when it is already NFC by the quick check).</summary>
    public static string Normalize(string text)
    {
        if (IsTriviallyNormalized(text)) return text;
        var d = data.Value;
        if (!d.MayChange(text)) return text;
        var cps = new List<int>(text.Length + 8);
        for (int i = 0; i < text.Length;)
        {
            int cp = CodePoints.At(text, i);
            i += CodePoints.Width(cp);
            Decompose(d, cp, cps);
        }
        ReorderCombiningMarks(d, cps);
        Compose(d, cps);
        var sb = new StringBuilder(cps.Count);
        foreach (int cp in cps) CodePoints.Append(sb, cp);
        string result = sb.ToString();
        return result == text ? text : result;
    }

    // Below U+0300 every character is a starter that neither decomposes under NFC nor composes with
    // its neighbour, so such text is already normalized (the common case for prompts).
    static bool IsTriviallyNormalized(string text)
    {
        foreach (char c in text)
            if (c >= 0x300) return false;
        return true;
    }

    static void Decompose(Data d, int cp, List<int> output)
    {
        if (cp >= SBase && cp < SBase + SCount)
        {
            int s = cp - SBase;
            output.Add(LBase + s / NCount);
            output.Add(VBase + s % NCount / TCount);
            if (s % TCount != 0) output.Add(TBase + s % TCount);
            return;
        }
        if (d.Decompositions.TryGetValue(cp, out var parts))
        {
            Decompose(d, parts.First, output);
            if (parts.Second >= 0) Decompose(d, parts.Second, output);
            return;
        }
        output.Add(cp);
    }

    // Canonical ordering: a stable sort by combining class of every run of non-starters.
    static void ReorderCombiningMarks(Data d, List<int> cps)
    {
        for (int i = 1; i < cps.Count; i++)
        {
            int cc = d.CombiningClass(cps[i]);
            if (cc == 0) continue;
            int cp = cps[i], j = i;
            while (j > 0)
            {
                int prev = d.CombiningClass(cps[j - 1]);
                if (prev == 0 || prev <= cc) break;
                cps[j] = cps[j - 1];
                j--;
            }
            cps[j] = cp;
        }
    }

    // The canonical composition algorithm of UAX #15: each character joins the last starter unless a
    // character of the same or a higher combining class stands between them.
    static void Compose(Data d, List<int> cps)
    {
        if (cps.Count == 0) return;
        int starterPos = 0, write = 1;
        int lastClass = d.CombiningClass(cps[0]);
        if (lastClass != 0) lastClass = 256; // a leading non-starter never composes
        for (int read = 1; read < cps.Count; read++)
        {
            int cp = cps[read], cc = d.CombiningClass(cp);
            int composite = (lastClass < cc || lastClass == 0) ? d.Compose(cps[starterPos], cp) : -1;
            if (composite >= 0)
            {
                cps[starterPos] = composite;
                continue;
            }
            if (cc == 0) starterPos = write;
            lastClass = cc;
            cps[write++] = cp;
        }
        cps.RemoveRange(write, cps.Count - write);
    }

    sealed class Data
    {
        public readonly Dictionary<int, (int First, int Second)> Decompositions = new();
        public readonly Dictionary<long, int> Compositions = new();
        readonly Dictionary<int, byte> combiningClasses = new();
        // Code points that make text possibly not NFC (the NFC quick check's "No" and "Maybe" answers, and
        // every non-starter): without any of them a string is already normalized.
        readonly System.Collections.BitArray attention = new(0x110000);

        public bool MayChange(string text)
        {
            for (int i = 0; i < text.Length;)
            {
                int cp = CodePoints.At(text, i);
                if (attention[cp]) return true;
                i += CodePoints.Width(cp);
            }
            return false;
        }

        public static Data Build()
        {
            var d = new Data();
            ReadOnlySpan<int> dec = TextTables.CanonicalDecompositions;
            ReadOnlySpan<int> excluded = TextTables.CompositionExclusions;
            for (int i = 0; i < dec.Length; i += 3)
            {
                d.Decompositions[dec[i]] = (dec[i + 1], dec[i + 2]);
                if (dec[i + 2] >= 0 && excluded.BinarySearch(dec[i]) < 0)
                {
                    d.Compositions[Key(dec[i + 1], dec[i + 2])] = dec[i];
                    d.attention[dec[i + 2]] = true; // may compose with what precedes it
                }
                else d.attention[dec[i]] = true; // singleton or excluded: never stays as it is
            }
            for (int cp = VBase; cp < VBase + VCount; cp++) d.attention[cp] = true;
            for (int cp = TBase + 1; cp < TBase + TCount; cp++) d.attention[cp] = true;
            ReadOnlySpan<int> ccc = TextTables.CombiningClassRanges;
            for (int i = 0; i < ccc.Length; i += 3)
                for (int cp = ccc[i]; cp <= ccc[i + 1]; cp++)
                {
                    d.combiningClasses[cp] = (byte)ccc[i + 2];
                    d.attention[cp] = true;
                }
            return d;
        }

        public int CombiningClass(int cp) => cp < 0x300 ? 0 : combiningClasses.TryGetValue(cp, out byte c) ? c : 0;

        public int Compose(int first, int second)
        {
            if (first >= LBase && first < LBase + LCount && second >= VBase && second < VBase + VCount)
                return SBase + ((first - LBase) * VCount + (second - VBase)) * TCount;
            if (first >= SBase && first < SBase + SCount && (first - SBase) % TCount == 0
                && second > TBase && second < TBase + TCount)
                return first + (second - TBase);
            return Compositions.TryGetValue(Key(first, second), out int composite) ? composite : -1;
        }

        static long Key(int first, int second) => ((long)first << 21) | (uint)second;
    }
}
