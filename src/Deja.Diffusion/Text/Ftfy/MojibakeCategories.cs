using Deja.Diffusion.Text.Unicode;

namespace Deja.Diffusion.Text.Ftfy;

/// <summary>
/// The character categories of ftfy 6.1.1's badness heuristic (badness.py, MOJIBAKE_CATEGORIES): about
/// 400 characters that UTF-8 read in the wrong single-byte encoding produces, grouped by the contexts in
/// which they are suspicious. <see cref="Badness"/> combines them into the sequences it looks for.
/// </summary>
internal static class MojibakeCategories
{
    /// <summary>Characters seen in many contexts; sequences with them are not mojibake by themselves.</summary>
    public static readonly CharClass Common = CharClass.Of("\u00A0\u00AD·´–—―…’"); // NBSP, soft hyphen

    /// <summary>The C1 controls, which nothing but mojibake uses any more.</summary>
    public static readonly CharClass C1 = CharClass.Of("\u0080-\u009F");

    /// <summary>Characters nearly always from mojibake (the last two only look numeric).</summary>
    public static readonly CharClass Bad = CharClass.Of("¦¤¨¬¯¶§¸ƒˆˇ˘˛˜†‡‰⌐◊\uFFFDªº");

    public static readonly CharClass Currency = CharClass.Of("¢£¥₧€");

    // U+F8FF is a private-use character, usually the Apple logo.
    public static readonly CharClass StartPunctuation = CharClass.Of("¡«¿©΄΅‘‚“„•‹\uF8FF");

    public static readonly CharClass EndPunctuation = CharClass.Of("®»˝”›™");

    public static readonly CharClass Numeric = CharClass.Of("²³¹±¼½¾×µ÷⁄∂∆∏∑√∞∩∫≈≠≡≤≥№");

    /// <summary>Letters of emoticon faces, which may legitimately appear in odd-looking company.</summary>
    public static readonly CharClass Kaomoji = CharClass.Of("Ò-ÖÙ-Üò-öø-üŐ°");

    /// <summary>Capital accented letters, without the O's and U's of kaomoji but with Ø (Arabic mojibake).</summary>
    public static readonly CharClass UpperAccented = CharClass.Of("À-ÑØÜÝĂĄĆČĎĐĘĚĞİĹĽŁŃŇŒŘŚŞŠŢŤŮŰŸŹŻŽҐ");

    public static readonly CharClass LowerAccented = CharClass.Of("ßà-ñăąćčďđęěğĺľłœŕśşšťüźżžґﬁﬂ");

    /// <summary>Capital letters that may end a word, so they are not counted as accented.</summary>
    public static readonly CharClass UpperCommon = CharClass.Of("ÞΑ-ΩΆΈΉΊΌΎΏΪΫЁ-Я");

    public static readonly CharClass LowerCommon = CharClass.Of("α-ωάέήίΰа-џ");

    /// <summary>Box drawing, without the single horizontal line that kaomoji use.</summary>
    public static readonly CharClass Box = CharClass.Of("│┌┐┘├┤┬┼═-╬▀▄█▌▐░▒▓");

    // Python's `re` classes, for str patterns (Unicode 14 data of the reference environment).
    public static readonly CharClass PythonSpace = CharClass.FromRanges(TextTables.PythonSpaceRanges);
    public static readonly CharClass PythonWord = CharClass.FromRanges(TextTables.PythonWordRanges);

    public static readonly CharClass AsciiLetter = CharClass.Of("a-zA-Z");
    public static readonly CharClass AsciiLower = CharClass.Of("a-z");
}
