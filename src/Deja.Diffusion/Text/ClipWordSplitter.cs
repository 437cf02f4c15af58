using Deja.Diffusion.Text.Unicode;

namespace Deja.Diffusion.Text;

/// <summary>
/// CLIP's word pattern
/// <c>&lt;\|startoftext\|&gt;|&lt;\|endoftext\|&gt;|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+</c>
/// (IGNORECASE, Python <c>regex</c> module) applied with findall, written as a scanner over code points:
/// .NET's Regex sees supplementary letters as surrogate halves, and its Unicode data is a different version.
/// </summary>
internal static class ClipWordSplitter
{
    static readonly string[] Literals =
    [
        "<|startoftext|>", "<|endoftext|>", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d",
    ];

    enum Kind { Letter, Number, Other, Skipped }

    /// <summary>The pattern's matches in <paramref name="text"/>, in order.</summary>
    public static List<string> Split(string text)
    {
        var words = new List<string>();
        for (int i = 0; i < text.Length;)
        {
            int literal = MatchLiteral(text, i);
            if (literal > 0)
            {
                words.Add(text.Substring(i, literal));
                i += literal;
                continue;
            }
            int cp = CodePoints.At(text, i);
            var kind = Classify(cp);
            int end = i + CodePoints.Width(cp);
            if (kind is Kind.Letter or Kind.Other)
            {
                while (end < text.Length)
                {
                    int next = CodePoints.At(text, end);
                    if (Classify(next) != kind) break;
                    end += CodePoints.Width(next);
                }
            }
            if (kind != Kind.Skipped) words.Add(text[i..end]);
            i = end;
        }
        return words;
    }

    static int MatchLiteral(string text, int start)
    {
        char first = text[start];
        if (first != '<' && first != '\'') return 0;
        foreach (string literal in Literals)
            if (MatchesIgnoreCase(text, start, literal)) return literal.Length;
        return 0;
    }

    // IGNORECASE compares simple case folds. The text is already lowercase, and the only other code point
    // that folds onto a letter of these ASCII literals is U+017F LATIN SMALL LETTER LONG S (folds to 's').
    static bool MatchesIgnoreCase(string text, int start, string literal)
    {
        if (start + literal.Length > text.Length) return false;
        for (int k = 0; k < literal.Length; k++)
        {
            char c = text[start + k], p = literal[k];
            if (c != p && !(char.IsAsciiLetterUpper(c) && (char)(c | 0x20) == p) && !(p == 's' && c == '\u017F')) return false;
        }
        return true;
    }

    static Kind Classify(int cp)
    {
        if (cp < 128)
        {
            if (char.IsAsciiLetter((char)cp)) return Kind.Letter;
            if (char.IsAsciiDigit((char)cp)) return Kind.Number;
            return cp is ' ' or (>= 9 and <= 13) ? Kind.Skipped : Kind.Other;
        }
        if (CodePointRanges.Contains(TextTables.LetterRanges, cp)) return Kind.Letter;
        if (CodePointRanges.Contains(TextTables.NumberRanges, cp)) return Kind.Number;
        if (CodePointRanges.Contains(TextTables.RegexSpaceRanges, cp)) return Kind.Skipped;
        // U+0345 folds to a Greek letter, so under IGNORECASE the negated class rejects it although [\p{L}] does not match it.
        if (CodePointRanges.Contains(TextTables.UnmatchedRanges, cp)) return Kind.Skipped;
        return Kind.Other;
    }
}
