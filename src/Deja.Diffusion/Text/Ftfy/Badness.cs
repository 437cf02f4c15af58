using Deja.Diffusion.Text.Unicode;
using static Deja.Diffusion.Text.Ftfy.MojibakeCategories;

namespace Deja.Diffusion.Text.Ftfy;

/// <summary>
/// ftfy 6.1.1's mojibake heuristic, <c>badness.is_bad</c>: text is "bad" when it contains one of the
/// unlikely juxtapositions of <see cref="MojibakeCategories"/> below, which are the alternatives of ftfy's
/// BADNESS_RE in its order. Each element matches one code point, as Python's <c>re</c> does; the
/// sequences are matched by hand rather than with .NET's Regex because .NET matches UTF-16 units, and
/// Python's <c>\w</c> and <c>\s</c> are not .NET's.
/// </summary>
internal static class Badness
{
    static readonly CharClass AnyButNewline = CharClass.Except(CharClass.Of("\n"));
    static readonly CharClass NotAsciiLetter = CharClass.Except(AsciiLetter);

    static readonly Sequence[] Sequences =
    [
        new(C1),
        new(Bad | LowerAccented | UpperAccented | Box | StartPunctuation | EndPunctuation | Currency | Numeric, Bad),
        new(AsciiLetter, LowerCommon | UpperCommon, Bad),
        new(Bad, LowerAccented | UpperAccented | Box | StartPunctuation | EndPunctuation | Currency | Numeric),
        new(LowerAccented | LowerCommon | Box | EndPunctuation | Currency | Numeric, UpperAccented),
        new(Box | EndPunctuation | Currency | Numeric, LowerAccented),
        // ftfy leaves out [upper accented][currency] on its own: "fancy leetspeak-esque writing" uses it.
        new(LowerAccented | Box | EndPunctuation, Currency),
        new(PythonSpace, UpperAccented, Currency),
        new(UpperAccented | Box, Numeric),
        new(LowerAccented | UpperAccented | Box | Currency | EndPunctuation, StartPunctuation, Numeric),
        new(LowerAccented | UpperAccented | Currency | Numeric | Box, EndPunctuation, StartPunctuation),
        new(Currency | Numeric | Box, StartPunctuation),
        new(AsciiLower, UpperAccented, StartPunctuation | Currency),
        new(Box, Kaomoji),
        new(LowerAccented | UpperAccented | Currency | Numeric | StartPunctuation | EndPunctuation, Box),
        new(Box, EndPunctuation),
        new(LowerAccented | UpperAccented, EndPunctuation, PythonWord),
        // The ligature œ when not followed by an unaccented Latin letter.
        new(CharClass.Of("Œœ"), NotAsciiLetter),
        // Common Windows-1252 two-character mojibake the cases above miss.
        new(CharClass.Of("ÂÃÎÐ"), CharClass.Of("€Šš¢£Ÿž\u00A0\u00AD®©°·»–—´") | StartPunctuation | EndPunctuation),
        new(CharClass.Of("×"), CharClass.Of("²³")),
        // Windows-1252 mojibake of Arabic needs the common characters too, so four characters must match.
        new(ArabicLead, ArabicFollower, ArabicLead, ArabicFollower),
        // Windows-1252 mojibake starting the three-byte letters of some South Asian alphabets.
        new(CharClass.Of("à"), CharClass.Of("²µ¹¼½¾")),
        // MacRoman mojibake the cases above miss.
        new(CharClass.Of("√"), CharClass.Of("±∂†≠®™´≤≥¥µø")),
        new(CharClass.Of("≈"), CharClass.Of("°¢")),
        new(CharClass.Of("‚"), CharClass.Of("Ä"), CharClass.Of("ìîïòôúùû†°¢π")),
        new(CharClass.Of("‚"), CharClass.Of("âó"), CharClass.Of("àä°ê")),
        // Windows-1251 mojibake of characters in the U+2000 block.
        new(CharClass.Of("в"), CharClass.Of("Ђ")),
        // Windows-1251 mojibake of Latin-1 or Cyrillic: the two-character forms are too common, so three.
        new(CyrillicLead, C1 | Bad | StartPunctuation | EndPunctuation | Currency | CharClass.Of("°µ"), CyrillicLead),
        // Windows-1251 on top of Latin-1 mojibake of Windows-1252 characters, next to a Latin letter.
        new(CharClass.Of("Г"), CharClass.Of("ў"), CharClass.Of("В"), CharClass.Of("Ђ"), CharClass.Of("В"),
            AnyButNewline, CharClass.Of("A-Za-z ")),
        // Windows-1252 forms of 'à' and 'á', and of U+00A0 itself (possibly turned into a space).
        new(CharClass.Of("Ã"), CharClass.Of("\u00A0¡")),
        new(AsciiLower, Element.Optional(PythonSpace), CharClass.Of("ÃÂ"), CharClass.Of(" ")),
        new(atStart: true, CharClass.Of("ÃÂ"), CharClass.Of(" ")),
        // Â before a common character that it stands in front of when that character was encoded twice.
        new(AsciiLower | CharClass.Of(".,?!") | EndPunctuation, CharClass.Of("Â"), CharClass.Of(" ") | StartPunctuation | EndPunctuation),
        // Windows-1253 mojibake of characters in the U+2000 block.
        new(CharClass.Of("β"), CharClass.Of("€"), CharClass.Of("™\u00A0Ά\u00AD®°")),
        // Windows-1253 mojibake of Latin-1 or Greek.
        new(GreekLead, C1 | Bad | StartPunctuation | EndPunctuation | Currency | CharClass.Of("°"), GreekLead),
    ];

    static CharClass ArabicLead => CharClass.Of("ØÙ");
    static CharClass ArabicFollower => Common | Currency | Bad | Numeric | StartPunctuation | CharClass.Of("ŸŠ®°µ»");
    static CharClass CyrillicLead => CharClass.Of("ВГРС");
    static CharClass GreekLead => CharClass.Of("ΒΓΞΟ");

    /// <summary>True when <paramref name="text"/> looks like it contains mojibake (ftfy's <c>is_bad</c>).</summary>
    public static bool IsBad(string text)
    {
        for (int i = 0; i < text.Length; i += CodePoints.Width(CodePoints.At(text, i)))
            foreach (var sequence in Sequences)
                if ((!sequence.AtStart || i == 0) && Matches(text, i, sequence.Elements, 0))
                    return true;
        return false;
    }

    static bool Matches(string text, int position, Element[] elements, int index)
    {
        if (index == elements.Length) return true;
        var element = elements[index];
        if (position < text.Length)
        {
            int codePoint = CodePoints.At(text, position);
            if (element.Class.Contains(codePoint)
                && Matches(text, position + CodePoints.Width(codePoint), elements, index + 1))
                return true;
        }
        return element.IsOptional && Matches(text, position, elements, index + 1);
    }

    /// <summary>One code point of <see cref="Class"/>; an optional one may also match nothing (regex "?").</summary>
    readonly record struct Element(CharClass Class, bool IsOptional = false)
    {
        public static Element Optional(CharClass c) => new(c, true);
        public static implicit operator Element(CharClass c) => new(c);
    }

    /// <summary>One alternative of BADNESS_RE; <see cref="AtStart"/> for its "^".</summary>
    sealed class Sequence(bool atStart, params Element[] elements)
    {
        public Sequence(params Element[] elements) : this(false, elements) { }

        public bool AtStart { get; } = atStart;
        public Element[] Elements { get; } = elements;
    }
}
