using System.Text;
using Deja.Diffusion.Text.Unicode;

namespace Deja.Diffusion.Text.Ftfy;

/// <summary>
/// ftfy 6.1.1's <c>unescape_html</c>: replaces <c>&amp;name;</c> (HTML5 names, plus all-caps spellings of
/// lowercase names) and <c>&amp;#nnn;</c>/<c>&amp;#xhh;</c> references, and only those that end in a
/// semicolon, so informal text such as "this&amp;not that" is left alone.
/// </summary>
internal static class HtmlEntities
{
    const int MaxNameLength = 24;
    static readonly Lazy<Dictionary<string, string>> named = new(BuildNamed);

    public static string Unescape(string text)
    {
        int amp = text.IndexOf('&');
        if (amp < 0) return text;
        var sb = new StringBuilder(text.Length);
        int copied = 0;
        while (amp >= 0)
        {
            int end = MatchEnd(text, amp);
            if (end < 0)
            {
                amp = text.IndexOf('&', amp + 1);
                continue;
            }
            string reference = text[amp..end];
            sb.Append(text, copied, amp - copied).Append(Replacement(reference));
            copied = end;
            amp = text.IndexOf('&', end);
        }
        return sb.Append(text, copied, text.Length - copied).ToString();
    }

    // ftfy's pattern is &#?[0-9A-Za-z]{1,24}; — returns the index after the ';', or -1.
    static int MatchEnd(string text, int amp)
    {
        int i = amp + 1;
        if (i < text.Length && text[i] == '#') i++;
        int start = i;
        while (i < text.Length && i - start < MaxNameLength && char.IsAsciiLetterOrDigit(text[i])) i++;
        return i > start && i < text.Length && text[i] == ';' ? i + 1 : -1;
    }

    static string Replacement(string reference)
    {
        if (named.Value.TryGetValue(reference, out var text)) return text;
        if (!reference.StartsWith("&#", StringComparison.Ordinal)) return reference;
        // html.unescape decodes the reference only when its whole body is a number; anything left over
        // (and a decoded ';') makes ftfy keep the original text.
        string decoded = DecodeNumeric(reference.AsSpan(2, reference.Length - 3)) ?? reference;
        return decoded.Contains(';') ? reference : decoded;
    }

    static string? DecodeNumeric(ReadOnlySpan<char> body)
    {
        bool hex = body[0] is 'x' or 'X';
        var digits = hex ? body[1..] : body;
        if (digits.IsEmpty) return null;
        long value = 0;
        foreach (char c in digits)
        {
            int digit = hex ? HexValue(c) : char.IsAsciiDigit(c) ? c - '0' : -1;
            if (digit < 0) return null;
            value = Math.Min(value * (hex ? 16 : 10) + digit, 0x7FFFFFFF); // saturate: anything above 0x10FFFF is invalid anyway
        }
        return CodePointText((int)value);
    }

    static int HexValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };

    // html.unescape's fix-ups for numeric references: Windows-1252 for C1 code points, U+FFFD for
    // NUL/surrogates/out-of-range values, and nothing for other control and non-characters.
    static string CodePointText(int cp)
    {
        int fixedIndex = CodePointRanges.IndexOf(TextTables.InvalidCharrefFrom, cp);
        if (fixedIndex >= 0) return TextTables.InvalidCharrefTo[fixedIndex];
        if (cp is >= 0xD800 and <= 0xDFFF || cp > 0x10FFFF) return "\uFFFD";
        if (CodePointRanges.IndexOf(TextTables.InvalidCodepoints, cp) >= 0) return "";
        return char.ConvertFromUtf32(cp);
    }

    static Dictionary<string, string> BuildNamed()
    {
        var table = TextTables.HtmlEntities;
        var dict = new Dictionary<string, string>(table.Length / 2, StringComparer.Ordinal);
        for (int i = 0; i < table.Length; i += 2) dict[table[i]] = table[i + 1];
        return dict;
    }
}
