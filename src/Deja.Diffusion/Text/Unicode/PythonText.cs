using System.Text;

namespace Deja.Diffusion.Text.Unicode;

/// <summary>
/// The few CPython 3.11 string operations the reference tokenizer relies on, reproduced exactly
/// (Unicode 14 data from <see cref="TextTables"/>) instead of .NET's culture-free casing, which
/// differs (İ, final sigma, Unicode version).
/// </summary>
internal static class PythonText
{
    /// <summary>Python's <c>str.isspace()</c> for one code point.</summary>
    public static bool IsSpace(int codePoint) =>
        codePoint == ' ' || (codePoint >= 9 && CodePointRanges.Contains(TextTables.PythonSpaceRanges, codePoint));

    /// <summary>Python's <c>str.strip()</c> (no argument): removes leading and trailing <see cref="IsSpace"/> characters.</summary>
    public static string Strip(string text)
    {
        // Every Python whitespace character is in the BMP, so testing UTF-16 units is exact.
        int start = 0, end = text.Length;
        while (start < end && IsSpace(text[start])) start++;
        while (end > start && IsSpace(text[end - 1])) end--;
        return start == 0 && end == text.Length ? text : text[start..end];
    }

    /// <summary>
    /// Python's <c>str.lower()</c>: full lowercase mapping (İ → i + U+0307) and the final-sigma rule
    /// (Σ → ς after a cased letter, when no cased letter follows; case-ignorable characters are skipped).
    /// </summary>
    public static string Lower(string text)
    {
        if (IsAsciiWithoutUpper(text)) return text;
        var sb = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length;)
        {
            int cp = CodePoints.At(text, i);
            if (cp == 0x3A3) sb.Append(IsFinalSigma(text, i) ? 'ς' : 'σ');
            else if (cp == 0x130) sb.Append("i\u0307");
            else CodePoints.Append(sb, LowerCodePoint(cp));
            i += cp > 0xFFFF ? 2 : 1;
        }
        return sb.ToString();
    }

    /// <summary>The simple lowercase of one code point (Σ → σ, İ → i).</summary>
    internal static int LowerCodePoint(int cp)
    {
        if (cp < 128) return cp is >= 'A' and <= 'Z' ? cp + 32 : cp;
        if (cp == 0x130) return 'i';
        int index = CodePointRanges.IndexOf(TextTables.LowercaseFrom, cp);
        return cp == 0x3A3 ? 0x3C3 : index >= 0 ? TextTables.LowercaseTo[index] : cp;
    }

    static bool IsFinalSigma(string text, int sigmaIndex)
    {
        int before = -1;
        for (int j = sigmaIndex; j > 0;)
        {
            int cp = PreviousCodePoint(text, ref j);
            if (!IsCaseIgnorable(cp)) { before = cp; break; }
        }
        if (before < 0 || !IsCased(before)) return false;
        for (int j = sigmaIndex + 1; j < text.Length;)
        {
            int cp = CodePoints.At(text, j);
            j += cp > 0xFFFF ? 2 : 1;
            if (!IsCaseIgnorable(cp)) return !IsCased(cp);
        }
        return true;
    }

    static bool IsCaseIgnorable(int cp) => CodePointRanges.Contains(TextTables.CaseIgnorableRanges, cp);
    static bool IsCased(int cp) => CodePointRanges.Contains(TextTables.CasedRanges, cp);

    static int PreviousCodePoint(string text, ref int index)
    {
        index--;
        if (index > 0 && char.IsLowSurrogate(text[index]) && char.IsHighSurrogate(text[index - 1]))
        {
            index--;
            return char.ConvertToUtf32(text[index], text[index + 1]);
        }
        return text[index];
    }

    static bool IsAsciiWithoutUpper(string text)
    {
        foreach (char c in text)
            if (c >= 128 || c is >= 'A' and <= 'Z') return false;
        return true;
    }
}
