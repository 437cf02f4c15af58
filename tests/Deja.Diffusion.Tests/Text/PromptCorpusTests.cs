using Deja.Diffusion.Text;

namespace Deja.Diffusion.Tests.Text;

/// <summary>Every benchmark prompt of testdata/prompts tokenizes to 77 well-formed ids with both tokenizers.</summary>
public class PromptCorpusTests
{
    public static TheoryData<string> Files() => [.. TextTestData.PromptFiles().Select(f => Path.GetFileName(f))];

    [Theory]
    [MemberData(nameof(Files))]
    public void EveryPromptEncodesTo77Ids(string file)
    {
        var prompts = PromptFile.Read(TestData.Prompts(file));
        Assert.Empty(prompts.BlankLines);
        Assert.Equal(file.EndsWith(".jsonl") ? PromptFileFormat.JsonLines : PromptFileFormat.PlainText, prompts.Format);
        foreach (var tokenizer in new[] { TextTestData.Sd1, TextTestData.Sd2 })
            foreach (var prompt in prompts.Prompts)
            {
                var e = tokenizer.EncodePadded(prompt.Text);
                Assert.Equal(77, e.Ids.Length);
                Assert.Equal(tokenizer.BosId, e.Ids[0]);
                Assert.Equal(tokenizer.EosId, e.Ids[e.Length - 1]);
                Assert.InRange(e.Length, 3, 77);
                Assert.Equal(e.UntruncatedLength > 77, e.Truncated);
                Assert.All(e.Ids, id => Assert.InRange(id, 0, 49407));
                Assert.All(e.Ids[e.Length..], id => Assert.Equal(tokenizer.PadId, id));
            }
    }

    [Fact]
    public void PromptCountsMatchTheReadme()
    {
        var counts = TextTestData.PromptFiles().ToDictionary(f => Path.GetFileName(f), f => PromptFile.Read(f).Prompts.Count);
        Assert.Equal(500, counts["sd1_mem.txt"]);
        Assert.Equal(500, counts["sd1_mem.jsonl"]);
        Assert.Equal(500, counts["sd1_nmem.txt"]);
        Assert.Equal(219, counts["sd2_mem.txt"]);
        Assert.Equal(219, counts["sd2_mem.jsonl"]);
        Assert.Equal(90, counts["RV_mem.txt"]);
        Assert.Equal(90, counts["RV_nmem.txt"]);
        Assert.Equal(10, counts["sample_mitigation.txt"]);
    }

    [Fact]
    public void JsonlCaptionsEqualTheTextFile()
    {
        var text = PromptFile.Read(TestData.Prompts("sd1_mem.txt")).Prompts.Select(p => p.Text);
        var jsonl = PromptFile.Read(TestData.Prompts("sd1_mem.jsonl")).Prompts.Select(p => p.Text);
        Assert.Equal(text, jsonl);
    }
}
