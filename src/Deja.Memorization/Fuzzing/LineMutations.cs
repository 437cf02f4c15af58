using System.Text;

namespace Deja.Memorization.Fuzzing;

/// <summary>Mutations of line-oriented text (prompt lists, merges.txt, JSON lines): whole lines and their text.</summary>
public static class LineMutations
{
    /// <summary>Text pieces that exercise decoding and normalization: other scripts, combining marks, emoji, controls, entities.</summary>
    static readonly string[] Fragments =
    [
        "", " ", "\t", "a", "A photo of a cat", "\u00e9", "e\u0301", "\u0130", "\u00df", "\ufb01", "\u2126", "\u1e9e", "\ud83d\ude00",
        "\ud83c\uddfa\ud83c\uddf8", "\u200b", "\u00a0", "\u3000", "\u0000", "\u0007", "\u001b[31m", "&amp;", "&lt;tag&gt;", "&#x1F600;",
        "\u00c3\u00a9", "\u00e2\u0080\u0099", "<|startoftext|>", "<|endoftext|>", "</w>", "\"", "\\", "{", "{\"prompt\": 1}",
        "{\"prompt\": \"x\"}", "{\"caption\": \"y\"}", "#version: 0.2", "a b", "a b c", "\u0430\u0431\u0432", "\u4e2d\u6587", "\u0627\u0644",
    ];

    public static IReadOnlyList<FuzzMutation> All { get; } =
        [DeleteLine, DuplicateLine, SwapLines, InsertLine, EditLine, ChangeLineEndings, AddByteOrderMark, InvalidUtf8, LongLine];

    static List<string> Lines(byte[] input) => [.. Encoding.UTF8.GetString(input).Split('\n')];
    static byte[] Join(List<string> lines) => Encoding.UTF8.GetBytes(string.Join('\n', lines));

    public static byte[]? DeleteLine(byte[] input, FuzzRandom random)
    {
        var lines = Lines(input);
        if (lines.Count == 0) return null;
        lines.RemoveAt(random.Next(lines.Count));
        return Join(lines);
    }

    public static byte[]? DuplicateLine(byte[] input, FuzzRandom random)
    {
        var lines = Lines(input);
        int at = random.Next(lines.Count);
        lines.Insert(random.Next(lines.Count + 1), lines[at]);
        return Join(lines);
    }

    public static byte[]? SwapLines(byte[] input, FuzzRandom random)
    {
        var lines = Lines(input);
        if (lines.Count < 2) return null;
        int a = random.Next(lines.Count), b = random.Next(lines.Count);
        (lines[a], lines[b]) = (lines[b], lines[a]);
        return Join(lines);
    }

    public static byte[]? InsertLine(byte[] input, FuzzRandom random)
    {
        var lines = Lines(input);
        var line = string.Concat(Enumerable.Range(0, random.Between(1, 4)).Select(_ => random.Pick(Fragments)));
        lines.Insert(random.Next(lines.Count + 1), line);
        return Join(lines);
    }

    /// <summary>A fragment inserted into a line, or a piece of it cut out.</summary>
    public static byte[]? EditLine(byte[] input, FuzzRandom random)
    {
        var lines = Lines(input);
        int at = random.Next(lines.Count);
        var line = lines[at];
        int pos = random.Next(line.Length + 1);
        lines[at] = random.Chance(0.6) || line.Length == 0
            ? line[..pos] + random.Pick(Fragments) + line[pos..]
            : line[..pos] + line[Math.Min(line.Length, pos + random.Between(1, 8))..];
        return Join(lines);
    }

    public static byte[]? ChangeLineEndings(byte[] input, FuzzRandom random)
    {
        var text = Encoding.UTF8.GetString(input);
        return Encoding.UTF8.GetBytes(text.Replace("\n", random.Pick((string[])["\r\n", "\r", "\n\n", "\u2028", "\u0085", "\r\r\n"])));
    }

    public static byte[]? AddByteOrderMark(byte[] input, FuzzRandom random) =>
        random.Chance(0.7) ? [0xEF, 0xBB, 0xBF, .. input] : [0xFF, 0xFE, .. input];

    /// <summary>Bytes that are never UTF-8 (lone continuation bytes, overlong forms, surrogates, 0xFF).</summary>
    public static byte[]? InvalidUtf8(byte[] input, FuzzRandom random)
    {
        byte[][] bad = [[0x80], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xFF], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82]];
        int at = random.Position(input.Length + 1);
        return [.. input.AsSpan(0, at), .. random.Pick(bad), .. input.AsSpan(at)];
    }

    /// <summary>One very long line (tens of thousands of characters): time limits and per-line buffers.</summary>
    public static byte[]? LongLine(byte[] input, FuzzRandom random)
    {
        var lines = Lines(input);
        var unit = random.Pick((string[])["a ", "ab", "\u00e9", "\ud83d\ude00", "&amp;", "a\u0301", " ", "<|endoftext|>"]);
        lines.Insert(random.Next(lines.Count + 1), string.Concat(Enumerable.Repeat(unit, random.Between(1000, 30_000))));
        return Join(lines);
    }
}
