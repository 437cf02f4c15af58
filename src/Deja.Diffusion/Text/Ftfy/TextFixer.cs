using System.Globalization;
using System.Text;
using Deja.Diffusion.Text.Unicode;

namespace Deja.Diffusion.Text.Ftfy;

/// <summary>
/// <c>ftfy.fix_text</c> as ftfy 6.1.1 runs it by default, which is what the reference CLIP tokenizer
/// applies to prompts: HTML entity unescaping, mojibake repair (<see cref="EncodingFixer"/>, e.g. "â€™" →
/// "’"), C1 controls read as Windows-1252, Latin ligatures, character width, curly quotes, line breaks,
/// lone surrogates, terminal escapes, control characters and NFC, in that order, repeated until nothing
/// changes, line by line.
/// </summary>
public static class TextFixer
{
    // ftfy fixes text in segments of at most this many characters, normally one line each.
    const int MaxSegmentLength = 1_000_000;

    /// <summary>ftfy.fix_text(text) with ftfy's default configuration.</summary>
    public static string FixText(string text)
    {
        var output = new StringBuilder(text.Length);
        bool unescapeHtml = true;
        for (int pos = 0; pos < text.Length;)
        {
            int lineEnd = text.IndexOf('\n', pos);
            int end = lineEnd < 0 ? text.Length : lineEnd + 1;
            if (end - pos > MaxSegmentLength) end = pos + MaxSegmentLength;
            string segment = text[pos..end];
            // "auto" mode: a literal '<' means the text may be HTML, so entities are kept; ftfy switches
            // the option off for this segment and every later one.
            if (unescapeHtml && segment.Contains('<')) unescapeHtml = false;
            output.Append(FixSegment(segment, unescapeHtml));
            pos = end;
        }
        return output.ToString();
    }

    static string FixSegment(string text, bool unescapeHtml)
    {
        while (true)
        {
            string original = text;
            if (unescapeHtml) text = HtmlEntities.Unescape(text);
            text = EncodingFixer.FixEncoding(text);
            text = FixC1Controls(text);
            text = FixLatinLigatures(text);
            text = FixCharacterWidth(text);
            text = UncurlQuotes(text);
            text = FixLineBreaks(text);
            text = FixSurrogates(text);
            text = RemoveTerminalEscapes(text);
            text = RemoveControlChars(text);
            text = Nfc.Normalize(text);
            if (text == original) return text;
        }
    }

    /// <summary>C1 control characters (U+0080–U+009F) read as the Windows-1252 characters they stand for.</summary>
    internal static string FixC1Controls(string text) =>
        Translate(text, c => c is >= '\u0080' and <= '\u009F'
            ? TextTables.InvalidCharrefTo[CodePointRanges.IndexOf(TextTables.InvalidCharrefFrom, c)]
            : null);

    /// <summary>Latin ligatures and legacy digraphs spelled out (ﬁ → fi), as ftfy's LIGATURES table.</summary>
    internal static string FixLatinLigatures(string text) => Translate(text, c => c switch
    {
        'Ĳ' => "IJ", 'ĳ' => "ij", 'ŉ' => "\u02BCn",
        'Ǳ' => "DZ", 'ǲ' => "Dz", 'ǳ' => "dz", 'Ǆ' => "D\u017D", 'ǅ' => "D\u017E", 'ǆ' => "d\u017E",
        'Ǉ' => "LJ", 'ǈ' => "Lj", 'ǉ' => "lj", 'Ǌ' => "NJ", 'ǋ' => "Nj", 'ǌ' => "nj",
        'ﬀ' => "ff", 'ﬁ' => "fi", 'ﬂ' => "fl", 'ﬃ' => "ffi", 'ﬄ' => "ffl", 'ﬅ' => "\u017Ft", 'ﬆ' => "st",
        _ => null,
    });

    static readonly Lazy<Dictionary<char, string>> widthMap = new(() =>
        TextTables.WidthMap.ToDictionary(e => (char)e.CodePoint, e => e.Text));

    /// <summary>Fullwidth and halfwidth forms (and U+3000) replaced by their standard-width equivalents.</summary>
    internal static string FixCharacterWidth(string text) =>
        Translate(text, c => c == 0x3000 || c >= 0xFF01 ? widthMap.Value.GetValueOrDefault(c) : null);

    /// <summary>‘ ’ ‚ ‛ ʼ → ' and “ ” „ ‟ → ".</summary>
    internal static string UncurlQuotes(string text) => Translate(text, c => c switch
    {
        '\u02BC' or (>= '\u2018' and <= '\u201B') => "'",
        >= '\u201C' and <= '\u201F' => "\"",
        _ => null,
    });

    internal static string FixLineBreaks(string text) =>
        text.Replace("\r\n", "\n").Replace('\r', '\n').Replace('\u2028', '\n').Replace('\u2029', '\n').Replace('\u0085', '\n');

    /// <summary>Unpaired UTF-16 surrogates become U+FFFD (paired ones already form one code point in .NET).</summary>
    internal static string FixSurrogates(string text)
    {
        StringBuilder? sb = null;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            bool paired = char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]);
            if (paired)
            {
                sb?.Append(c).Append(text[i + 1]);
                i++;
                continue;
            }
            if (char.IsSurrogate(c))
            {
                sb ??= new StringBuilder(text.Length).Append(text, 0, i);
                sb.Append('\uFFFD');
            }
            else sb?.Append(c);
        }
        return sb?.ToString() ?? text;
    }

    /// <summary>Removes ANSI escapes <c>ESC [ (digits|;)* letter</c>.</summary>
    internal static string RemoveTerminalEscapes(string text)
    {
        int esc = text.IndexOf('\u001B');
        if (esc < 0) return text;
        var sb = new StringBuilder(text.Length);
        int copied = 0;
        for (; esc >= 0; esc = text.IndexOf('\u001B', esc + 1))
        {
            if (esc < copied) continue;
            int end = TerminalEscapeEnd(text, esc);
            if (end < 0) continue;
            sb.Append(text, copied, esc - copied);
            copied = end;
        }
        return sb.Append(text, copied, text.Length - copied).ToString();
    }

    static int TerminalEscapeEnd(string text, int esc)
    {
        int i = esc + 1;
        if (i >= text.Length || text[i] != '[') return -1;
        i++;
        while (i < text.Length)
        {
            if (text[i] == ';') { i++; continue; }
            // Python's \d is any Unicode decimal digit (.NET's category data may be a newer Unicode version).
            if (!Rune.TryGetRuneAt(text, i, out var rune) || Rune.GetUnicodeCategory(rune) != UnicodeCategory.DecimalDigitNumber)
                break;
            i += rune.Utf16SequenceLength;
        }
        return i < text.Length && char.IsAsciiLetter(text[i]) ? i + 1 : -1;
    }

    /// <summary>
    /// Removes control characters with no visible effect: C0 controls except tab, line feed, form feed and
    /// carriage return; DEL; deprecated Arabic format characters U+206A–U+206F; U+FEFF; U+FFF9–U+FFFC.
    /// </summary>
    internal static string RemoveControlChars(string text) => Translate(text, c => IsRemovedControl(c) ? "" : null);

    static bool IsRemovedControl(char c) => c switch
    {
        < '\u0009' or '\u000B' or (>= '\u000E' and < '\u0020') or '\u007F' => true,
        >= '\u206A' and <= '\u206F' => true,
        '\uFEFF' => true,
        >= '\uFFF9' and <= '\uFFFC' => true,
        _ => false,
    };

    // Python's str.translate for tables whose keys are all in the BMP and never surrogates.
    static string Translate(string text, Func<char, string?> map)
    {
        StringBuilder? sb = null;
        for (int i = 0; i < text.Length; i++)
        {
            string? replacement = map(text[i]);
            if (replacement is null)
            {
                sb?.Append(text[i]);
                continue;
            }
            sb ??= new StringBuilder(text.Length + 8).Append(text, 0, i);
            sb.Append(replacement);
        }
        return sb?.ToString() ?? text;
    }
}
