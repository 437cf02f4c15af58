using System.Buffers;
using System.Text;
using Deja.Diffusion.Text.Unicode;

namespace Deja.Diffusion.Text.Ftfy;

/// <summary>
/// The two UTF-8 decoders of ftfy 6.1.1's encoding repair, both strict (null instead of Python's
/// UnicodeDecodeError): Python's own "utf-8", and ftfy's "utf-8-variants", which also reads CESU-8
/// (supplementary characters written as two three-byte surrogates) and Java's two-byte null C0 80.
/// </summary>
internal static class Utf8Decoding
{
    /// <summary>Python's strict UTF-8 decoding (no overlong forms, surrogates or code points past U+10FFFF; a BOM is kept).</summary>
    public static string? Strict(ReadOnlySpan<byte> bytes)
    {
        var chars = new char[bytes.Length];
        var status = System.Text.Unicode.Utf8.ToUtf16(bytes, chars, out int read, out int written, replaceInvalidSequences: false);
        return status == OperationStatus.Done && read == bytes.Length ? new string(chars, 0, written) : null;
    }

    /// <summary>
    /// ftfy's "utf-8-variants" decoding. It is Python's UTF-8 decoding between special positions found by a
    /// byte pattern — C0 followed by 80, or ED followed by A0–BF — where it decodes a null or a CESU-8
    /// surrogate pair itself; any other sequence at a special position is an error, as in UTF-8.
    /// <para>
    /// The pattern ends its optional groups with a Python "$", which also matches just before a final
    /// "\n", and ftfy's segments end in "\n": so "C0 \n" at the very end decodes to a null (swallowing
    /// the line break), and a CESU-8 pair whose sixth byte is that final "\n" decodes with its bits.
    /// Both are reproduced.
    /// </para>
    /// </summary>
    public static string? Variants(ReadOnlySpan<byte> bytes)
    {
        var output = new StringBuilder(bytes.Length);
        int position = 0;
        while (position < bytes.Length)
        {
            int special = NextSpecialPosition(bytes, position);
            if (special < 0) special = bytes.Length;
            if (special > position)
            {
                string? plain = Strict(bytes[position..special]);
                if (plain is null) return null;
                output.Append(plain);
                position = special;
                continue;
            }
            if (bytes[position] == 0xC0)
            {
                if (bytes.Length - position < 2) return null; // a lone C0 at the end: invalid UTF-8
                output.Append('\0');
                position += 2;
                continue;
            }
            // ED followed by A0–BF: a CESU-8 pair, else a UTF-8 error (an encoded surrogate, or a truncation).
            if (bytes.Length - position < 6 || !IsCesu8Pair(bytes, position)) return null;
            int codePoint = 0x10000
                + ((bytes[position + 1] & 0x0F) << 16) + ((bytes[position + 2] & 0x3F) << 10)
                + ((bytes[position + 4] & 0x0F) << 6) + (bytes[position + 5] & 0x3F);
            CodePoints.Append(output, codePoint);
            position += 6;
        }
        return output.ToString();
    }

    // The first position at or after `from` where ftfy's SPECIAL_BYTES_RE matches:
    // C0 (80|$) | ED ([A0-BF]|$) ([80-BF]|$), its CESU-8 alternative being covered by the second.
    static int NextSpecialPosition(ReadOnlySpan<byte> bytes, int from)
    {
        for (int i = from; i < bytes.Length; i++)
        {
            if (bytes[i] == 0xC0 && (IsEnd(bytes, i + 1) || bytes[i + 1] == 0x80)) return i;
            if (bytes[i] != 0xED) continue;
            if (IsEnd(bytes, i + 1)) return i; // both groups then match "$"
            if (bytes[i + 1] is >= 0xA0 and <= 0xBF && (IsEnd(bytes, i + 2) || bytes[i + 2] is >= 0x80 and <= 0xBF)) return i;
        }
        return -1;
    }

    // ED [A0-AF] [80-BF] ED [B0-BF] ([80-BF] | $): the high and low surrogate of one code point.
    static bool IsCesu8Pair(ReadOnlySpan<byte> bytes, int at) =>
        bytes[at] == 0xED && bytes[at + 1] is >= 0xA0 and <= 0xAF && bytes[at + 2] is >= 0x80 and <= 0xBF
        && bytes[at + 3] == 0xED && bytes[at + 4] is >= 0xB0 and <= 0xBF
        && (bytes[at + 5] is >= 0x80 and <= 0xBF || IsEnd(bytes, at + 5));

    // Python's "$" without MULTILINE: the end, or just before a final "\n".
    static bool IsEnd(ReadOnlySpan<byte> bytes, int position) =>
        position == bytes.Length || (position == bytes.Length - 1 && bytes[position] == (byte)'\n');
}
