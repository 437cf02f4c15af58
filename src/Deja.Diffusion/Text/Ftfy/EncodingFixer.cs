namespace Deja.Diffusion.Text.Ftfy;

/// <summary>
/// ftfy 6.1.1's <c>fix_encoding</c> with its default configuration: finds mojibake ("doesnâ€™t",
/// "cafÃ©") with the <see cref="Badness"/> heuristic and undoes it by encoding the text in the
/// single-byte encoding it was wrongly decoded with and decoding the bytes as UTF-8, repeated until the
/// text stops changing. Text that is ASCII, or that the heuristic finds nothing wrong with, is returned
/// as it is, which is what keeps legitimate accented text ("IL Y MARQUÉ…") intact.
/// </summary>
internal static class EncodingFixer
{
    public static string FixEncoding(string text)
    {
        while (true)
        {
            string previous = text;
            text = FixOneStep(text);
            if (text == previous) return text;
        }
    }

    // ftfy's _fix_encoding_one_step_and_explain.
    static string FixOneStep(string text)
    {
        if (IsAscii(text) || !Badness.IsBad(text)) return text;

        // UTF-8 decoded as a single-byte encoding is the usual case, and when re-decoding works it is
        // nearly always right: the first encoding (in ftfy's order) that the text fits and whose bytes
        // decode as UTF-8 wins.
        foreach (var codec in SingleByteCodecs.All)
        {
            if (!codec.CanEncode(text)) continue;
            string? fixedText = DecodeAsUtf8(codec.Encode(text), codec.IsSloppy);
            if (fixedText is not null) return fixedText;
        }

        // Mojibake embedded in text that cannot be re-decoded as a whole is fixed run by run.
        if (Utf8MojibakeDetector.Found(text))
        {
            string fixedText = DecodeInconsistentUtf8(text);
            if (fixedText != text) return fixedText;
        }

        // ftfy next re-decodes Latin-1 text as strict Windows-1252 and otherwise applies fix_c1_controls.
        // Both replace the C1 controls by their Windows-1252 characters and leave the five bytes that
        // Windows-1252 does not define, so the second alone gives the same text.
        // (ftfy's check for text that fits both Latin-1 and Windows-1252 looks for the name
        // "windows-1252" among the sloppy names it tried, never finds it, and so never applies.)
        if (HasC1Control(text)) return TextFixer.FixC1Controls(text);

        // What remains would be a mix-up between two single-byte encodings, which ftfy leaves alone.
        return text;
    }

    static string? DecodeAsUtf8(byte[] bytes, bool sloppy)
    {
        if (ByteRepairs.HasAlteredUtf8(bytes)) bytes = ByteRepairs.RestoreByteA0(bytes);
        if (sloppy) bytes = ByteRepairs.ReplaceLossySequences(bytes);
        // ED can start a CESU-8 surrogate and C0 Java's two-byte null; both need the variant decoder.
        bool variant = Array.IndexOf(bytes, (byte)0xED) >= 0 || Array.IndexOf(bytes, (byte)0xC0) >= 0;
        return variant ? Utf8Decoding.Variants(bytes) : Utf8Decoding.Strict(bytes);
    }

    /// <summary>ftfy's <c>decode_inconsistent_utf8</c>: fixes each UTF-8-looking run that is itself bad.</summary>
    static string DecodeInconsistentUtf8(string text) =>
        // A run must be shorter than the text, or fixing it would recurse forever.
        Utf8MojibakeDetector.ReplaceRuns(text, run => run.Length < text.Length && Badness.IsBad(run) ? FixEncoding(run) : run);

    static bool IsAscii(string text)
    {
        foreach (char c in text)
            if (c >= 0x80) return false;
        return true;
    }

    static bool HasC1Control(string text)
    {
        foreach (char c in text)
            if (c is >= '\u0080' and <= '\u009F') return true;
        return false;
    }
}
