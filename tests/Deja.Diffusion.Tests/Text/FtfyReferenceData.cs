using System.Text.Json;

namespace Deja.Diffusion.Tests.Text;

/// <summary>
/// Data/ftfy_cases.jsonl and Data/ftfy_badness.json, written by Tools/make_ftfy_data.py from the real
/// ftfy 6.1.1: inputs from ftfy's documentation and tests, mojibake prompts and seeded random mojibake,
/// with what ftfy returns for them.
/// </summary>
internal static class FtfyReferenceData
{
    public sealed record Case(int Index, string Source, string? Label, string Text, string FixText, string FixEncoding,
        string? Documented, int[]? Sd1, int[]? Sd2)
    {
        public override string ToString() => $"#{Index} {Source} {Label} {Escape(Text)}";
    }

    public static IReadOnlyList<Case> Cases => cases.Value;

    static readonly Lazy<Case[]> cases = new(() =>
        [.. File.ReadLines(TextTestData.Data("ftfy_cases.jsonl")).Select((line, index) =>
        {
            using var doc = JsonDocument.Parse(line);
            var r = doc.RootElement;
            return new Case(index, r.GetProperty("source").GetString()!, Optional(r, "label"),
                r.GetProperty("text").GetString()!, r.GetProperty("fix_text").GetString()!,
                r.GetProperty("fix_encoding").GetString()!, Optional(r, "documented"), Ids(r, "sd1"), Ids(r, "sd2"));
        })]);

    /// <summary>The badness bitmaps: every ordered pair of the alphabet, then the xorshift32-drawn strings.</summary>
    public sealed record BadnessData(int[] Alphabet, bool[] Pairs, uint Seed, int Count, bool[] Random);

    public static BadnessData Badness => badness.Value;

    static readonly Lazy<BadnessData> badness = new(() =>
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(TextTestData.Data("ftfy_badness.json")));
        var r = doc.RootElement;
        string alphabet = r.GetProperty("alphabet").GetString()!;
        var codePoints = new List<int>();
        for (int i = 0; i < alphabet.Length; i += char.IsSurrogatePair(alphabet, i) ? 2 : 1)
            codePoints.Add(char.ConvertToUtf32(alphabet, i));
        int count = r.GetProperty("count").GetInt32();
        return new BadnessData([.. codePoints], Bits(r.GetProperty("pairs").GetString()!, codePoints.Count * codePoints.Count),
            r.GetProperty("seed").GetUInt32(), count, Bits(r.GetProperty("random").GetString()!, count));
    });

    /// <summary>The strings of ftfy_badness.json's "random" bitmap, drawn as make_ftfy_data.py draws them.</summary>
    public static IEnumerable<string> DrawnStrings(BadnessData data)
    {
        uint state = data.Seed;
        uint Next()
        {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            return state;
        }
        for (int n = 0; n < data.Count; n++)
        {
            uint length = 2 + Next() % 6;
            var sb = new System.Text.StringBuilder();
            for (int k = 0; k < length; k++) sb.Append(char.ConvertFromUtf32(data.Alphabet[Next() % (uint)data.Alphabet.Length]));
            yield return sb.ToString();
        }
    }

    public static string Escape(string text) => JsonSerializer.Serialize(text);

    static string? Optional(JsonElement row, string name) => row.TryGetProperty(name, out var value) ? value.GetString() : null;

    static int[]? Ids(JsonElement row, string name) =>
        row.TryGetProperty(name, out var value) ? [.. value.EnumerateArray().Select(e => e.GetInt32())] : null;

    static bool[] Bits(string base64, int count)
    {
        byte[] bytes = Convert.FromBase64String(base64);
        return [.. Enumerable.Range(0, count).Select(i => (bytes[i / 8] >> (i % 8) & 1) == 1)];
    }
}
