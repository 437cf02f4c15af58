using System.Text.Json;
using Deja.Diffusion.Text;
using Deja.Diffusion.Text.Ftfy;
using Deja.Diffusion.Text.Unicode;

namespace Deja.Diffusion.Tests.Text;

/// <summary>
/// Comparisons with Data/*.{tsv,jsonl}, written by Tools/make_oracle_data.py from the reference steps run
/// with the real ftfy 6.1.1 and regex module (the versions the goldens were made with).
/// </summary>
public class OracleTokenizerTests
{
    [Fact]
    public void EveryBenchmarkPromptMatchesReferenceIds()
    {
        var expected = File.ReadLines(TextTestData.Data("prompt_ids.tsv"))
            .Where(l => !l.StartsWith('#'))
            .Select(l => l.Split('\t'))
            .ToLookup(f => f[0], f => (Line: int.Parse(f[1]), Sd1: Ids(f[2]), Sd2: f[3] == "=" ? Ids(f[2]) : Ids(f[3])));
        int compared = 0;
        foreach (string path in TextTestData.PromptFiles())
        {
            var prompts = PromptFile.Read(path).Prompts;
            var rows = expected[Path.GetFileName(path)].ToList();
            Assert.Equal(rows.Select(r => r.Line), prompts.Select(p => p.LineNumber));
            foreach (var (prompt, row) in prompts.Zip(rows))
            {
                Assert.True(row.Sd1.SequenceEqual(TextTestData.Sd1.Encode(prompt.Text)), $"SD1 {Path.GetFileName(path)}:{row.Line} {prompt.Text}");
                Assert.True(row.Sd2.SequenceEqual(TextTestData.Sd2.Encode(prompt.Text)), $"SD2 {Path.GetFileName(path)}:{row.Line} {prompt.Text}");
                compared++;
            }
        }
        Assert.Equal(2128, compared);
    }

    public static TheoryData<int> CaseIndices() => [.. Enumerable.Range(0, Cases.Value.Length)];

    [Theory]
    [MemberData(nameof(CaseIndices))]
    public void EdgeCaseMatchesReference(int index)
    {
        var c = Cases.Value[index];
        Assert.Equal(c.FixText, TextFixer.FixText(c.Text));
        Assert.Equal(c.Lower, PythonText.Lower(c.Text));
        Assert.Equal(c.Nfc, Nfc.Normalize(c.Text));
        Assert.Equal(c.Sd1, TextTestData.Sd1.Encode(c.Text));
        Assert.Equal(c.Sd2, TextTestData.Sd2.Encode(c.Text));
    }

    sealed record Case(string Text, string FixText, string Lower, string Nfc, int[] Sd1, int[] Sd2);

    static readonly Lazy<Case[]> Cases = new(() =>
        [.. File.ReadLines(TextTestData.Data("oracle_cases.jsonl")).Select(line =>
        {
            using var doc = JsonDocument.Parse(line);
            var r = doc.RootElement;
            return new Case(r.GetProperty("text").GetString()!, r.GetProperty("fix_text").GetString()!,
                r.GetProperty("lower").GetString()!, r.GetProperty("nfc").GetString()!,
                [.. r.GetProperty("sd1").EnumerateArray().Select(e => e.GetInt32())],
                [.. r.GetProperty("sd2").EnumerateArray().Select(e => e.GetInt32())]);
        })]);

    static int[] Ids(string field) => [.. field.Split(' ').Select(int.Parse)];
}
