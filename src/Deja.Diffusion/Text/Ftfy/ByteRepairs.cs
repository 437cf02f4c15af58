using System.Text;
using System.Text.RegularExpressions;

namespace Deja.Diffusion.Text.Ftfy;

/// <summary>
/// ftfy 6.1.1's repairs of re-encoded bytes before they are decoded as UTF-8 (<c>restore_byte_a0</c> and
/// <c>replace_lossy_sequences</c>, with the byte patterns of chardata.py). The patterns are byte
/// regexes in ftfy; here they run on the bytes read as Latin-1 (one char per byte), where .NET's
/// backtracking Regex picks the same leftmost-first matches as Python's <c>re</c>.
/// </summary>
internal static partial class ByteRepairs
{
    /// <summary>
    /// ftfy's ALTERED_UTF8_RE: UTF-8 sequences that would be valid if a space were byte A0, which some
    /// Windows-1252 program turned into a space. Only lead bytes that then form likely characters count.
    /// </summary>
    [GeneratedRegex(
        @"[\xC2\xC3\xC5\xCE\xD0\xD9][ ]" +
        @"|[\xE2\xE3][ ][\x80-\x84\x86-\x9F\xA1-\xBF]" +
        @"|[\xE0-\xE3][\x80-\x84\x86-\x9F\xA1-\xBF][ ]" +
        @"|[\xF0][ ][\x80-\xBF][\x80-\xBF]" +
        @"|[\xF0][\x80-\xBF][ ][\x80-\xBF]" +
        @"|[\xF0][\x80-\xBF][\x80-\xBF][ ]",
        RegexOptions.CultureInvariant)]
    private static partial Regex AlteredUtf8();

    /// <summary>
    /// "Ã " standing for "à " whose A0 became a space and merged with the following one — except in the
    /// Portuguese contractions "às", "àquele", "àquela", "àquilo" (and plurals), which keep their space.
    /// </summary>
    [GeneratedRegex(@"\xC3 (?! |quele|quela|quilo|s )", RegexOptions.CultureInvariant)]
    private static partial Regex AGraveWord();

    /// <summary>
    /// ftfy's LOSSY_UTF8_RE: UTF-8 (and CESU-8) sequences in which some bytes were lost — replaced by
    /// byte 1A, which the sloppy codecs write for U+FFFD, or (at most once) by '?' — and any other 1A.
    /// </summary>
    [GeneratedRegex(
        @"[\xC2-\xDF][\x1A]" +
        @"|[\xC2-\xC3][?]" +
        @"|\xED[\xA0-\xAF][\x1A?]\xED[\xB0-\xBF][\x1A?\x80-\xBF]" +
        @"|\xED[\xA0-\xAF][\x1A?\x80-\xBF]\xED[\xB0-\xBF][\x1A?]" +
        @"|[\xE0-\xEF][\x1A?][\x1A\x80-\xBF]" +
        @"|[\xE0-\xEF][\x1A\x80-\xBF][\x1A?]" +
        @"|[\xF0-\xF4][\x1A?][\x1A\x80-\xBF][\x1A\x80-\xBF]" +
        @"|[\xF0-\xF4][\x1A\x80-\xBF][\x1A?][\x1A\x80-\xBF]" +
        @"|[\xF0-\xF4][\x1A\x80-\xBF][\x1A\x80-\xBF][\x1A?]" +
        @"|\x1A",
        RegexOptions.CultureInvariant)]
    private static partial Regex LossyUtf8();

    const string Utf8ReplacementCharacter = "\u00EF\u00BF\u00BD"; // EF BF BD, U+FFFD in UTF-8

    /// <summary>Whether <see cref="RestoreByteA0"/> may apply: some sequence needs a space turned back into A0.</summary>
    public static bool HasAlteredUtf8(byte[] bytes) => AlteredUtf8().IsMatch(AsChars(bytes));

    /// <summary>ftfy's <c>restore_byte_a0</c>: "Ã " → "à ", then A0 for the spaces of altered UTF-8 sequences.</summary>
    public static byte[] RestoreByteA0(byte[] bytes)
    {
        string text = AGraveWord().Replace(AsChars(bytes), "\u00C3\u00A0 ");
        return AsBytes(AlteredUtf8().Replace(text, m => m.Value.Replace(' ', '\u00A0')));
    }

    /// <summary>ftfy's <c>replace_lossy_sequences</c>: each lossy sequence becomes the UTF-8 of U+FFFD.</summary>
    public static byte[] ReplaceLossySequences(byte[] bytes) =>
        AsBytes(LossyUtf8().Replace(AsChars(bytes), Utf8ReplacementCharacter));

    static string AsChars(byte[] bytes) => Encoding.Latin1.GetString(bytes);
    static byte[] AsBytes(string chars) => Encoding.Latin1.GetBytes(chars);
}
