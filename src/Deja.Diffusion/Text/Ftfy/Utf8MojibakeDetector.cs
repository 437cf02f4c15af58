using System.Text;

namespace Deja.Diffusion.Text.Ftfy;

/// <summary>
/// ftfy 6.1.1's UTF8_DETECTOR_RE (chardata.py): runs of characters that look like UTF-8 sequences read
/// in a Latin-1-like encoding — a character a lead byte decodes to, followed by as many characters that
/// continuation bytes decode to as that lead byte announces. Used to fix mojibake embedded in text that
/// cannot be re-decoded as a whole.
/// </summary>
internal static class Utf8MojibakeDetector
{
    // Characters that bytes 0xC2–0xDF decode to in the encodings ftfy tries.
    static readonly CharClass FirstOf2 = CharClass.Of(
        "ÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖ×ØÙÚÛÜÝÞßĂĆČĎĐĘĚĞİĹŃŇŐŘŞŢŮŰ" +
        "ΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩΪΫάέήίВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ");

    // Characters that bytes 0xE0–0xEF decode to.
    static readonly CharClass FirstOf3 = CharClass.Of("àáâãäåæçèéêëìíîïăćčďęěĺŕΰαβγδεζηθικλμνξοабвгдежзийклмноп");

    // Characters that bytes 0xF0 and 0xF3 decode to (the other four-byte leads only reach unassigned code points).
    static readonly CharClass FirstOf4 = CharClass.Of("ðóđğπσру");

    // Characters that continuation bytes 0x80–0xBF decode to, apart from the punctuation that also
    // stands for itself next to mojibake (spaces, dashes, quotation marks, ellipses).
    static readonly CharClass StrictContinuation = CharClass.Of(
        "\u0080-\u00BFĄąĽľŁłŒœŚśŞşŠšŤťŸŹźŻżŽžƒˆˇ˘˛˜˝΄΅" +
        "ΆΈΉΊΌΎΏЁЂЃЄЅІЇЈЉЊЋЌЎЏёђѓєѕіїјљњћќўџҐґ†‡•‰‹›€№™");

    // All characters continuation bytes decode to, and a space that may have replaced U+00A0.
    static readonly CharClass Continuation = StrictContinuation | CharClass.Of("–—―‘’‚“”„… ");

    /// <summary>True when some run of <paramref name="text"/> looks like UTF-8 mojibake.</summary>
    public static bool Found(string text)
    {
        for (int i = 0; i < text.Length; i++)
            if (RunEnd(text, i) > i) return true;
        return false;
    }

    /// <summary>
    /// <paramref name="text"/> with <paramref name="fix"/> applied to each run, as Python's <c>re.sub</c>
    /// does: leftmost runs first, scanning on after the end of each.
    /// </summary>
    public static string ReplaceRuns(string text, Func<string, string> fix)
    {
        StringBuilder? sb = null;
        int copied = 0;
        for (int i = 0; i < text.Length;)
        {
            int end = RunEnd(text, i);
            if (end <= i)
            {
                i++;
                continue;
            }
            sb ??= new StringBuilder(text.Length);
            sb.Append(text, copied, i - copied).Append(fix(text[i..end]));
            copied = i = end;
        }
        return sb is null ? text : sb.Append(text, copied, text.Length - copied).ToString();
    }

    // The end of the run starting at `start`, or `start` when none does. The run must not follow a
    // strict continuation character, so that a few characters inside a large garble are left alone.
    // The pattern is (2-char | 3-char | 4-char)+ with nothing after it, so the greedy regex match is
    // found by taking, at each step, the first alternative that fits, until none does.
    static int RunEnd(string text, int start)
    {
        if (start > 0 && StrictContinuation.Contains(text[start - 1])) return start;
        int end = start;
        while (true)
        {
            int next = SequenceEnd(text, end);
            if (next < 0) return end;
            end = next;
        }
    }

    static readonly (CharClass Lead, int Continuations)[] Sequences = [(FirstOf2, 1), (FirstOf3, 2), (FirstOf4, 3)];

    // The end of the one UTF-8-looking sequence at `at` (the first alternative that fits), or -1.
    static int SequenceEnd(string text, int at)
    {
        if (at >= text.Length) return -1;
        foreach (var (lead, continuations) in Sequences)
        {
            if (!lead.Contains(text[at]) || at + continuations >= text.Length) continue;
            bool fits = true;
            for (int k = 1; k <= continuations && fits; k++) fits = Continuation.Contains(text[at + k]);
            if (fits) return at + continuations + 1;
        }
        return -1;
    }
}
