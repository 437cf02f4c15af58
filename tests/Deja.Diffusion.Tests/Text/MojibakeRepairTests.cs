using Deja.Diffusion.Text.Ftfy;

namespace Deja.Diffusion.Tests.Text;

/// <summary>
/// ftfy 6.1.1's encoding repair (fix_encoding inside fix_text). Expected values are what the real ftfy
/// returns (Tools/make_ftfy_data.py); the inline examples are ftfy's documented ones.
/// </summary>
public class MojibakeRepairTests
{
    [Theory]
    [InlineData("doesnâ€™t … cafÃ©", "doesn't … café")] // issue 12 §6; "…" (not in UTF-8 mojibake) forces run-by-run repair
    [InlineData("doesnâ€™t look like a cafÃ©", "doesn't look like a café")]
    [InlineData("âœ” No problems", "✔ No problems")]
    [InlineData("The Mona Lisa doesnÃƒÂ¢Ã¢â€šÂ¬Ã¢â€žÂ¢t have eyebrows.", "The Mona Lisa doesn't have eyebrows.")]
    [InlineData("l’humanitÃ©", "l'humanité")]
    [InlineData("Ã\u00A0 perturber la rÃ©flexion", "à perturber la réflexion")]
    [InlineData("Ã perturber la rÃ©flexion", "à perturber la réflexion")] // U+00A0 that became a space
    [InlineData("(à¸‡'âŒ£')à¸‡", "(ง'⌣')ง")]
    [InlineData("L&AMP;AMP;ATILDE;&AMP;AMP;SUP3;PEZ", "LóPEZ")]
    [InlineData("&macr;\\_(ã\u0083\u0084)_/&macr;", "¯\\_(ツ)_/¯")]
    [InlineData("voilÃ le travail", "voilà le travail")]
    [InlineData("â€œ like this â€\uFFFD", "\" like this \uFFFD")] // a lost byte: the sequence becomes U+FFFD
    [InlineData("ÄŒeÅ¡tina", "Čeština")]
    [InlineData("ï»¿", "")] // a UTF-8 BOM, repaired to U+FEFF, which fix_text then removes
    public void RepairsDocumentedMojibake(string text, string expected) => Assert.Equal(expected, TextFixer.FixText(text));

    [Theory]
    [InlineData("IL Y MARQUÉ…")]                   // ftfy's README
    [InlineData("4288×…")]                         // the negative cases of ftfy's test_cases.json
    [InlineData("NESTLÉ® requiere contratar personal")]
    [InlineData("AHÅ™, the new sofa from IKEA")]
    [InlineData("ПоздравЂаво")]
    [InlineData("├┤a┼┐a┼┐a┼┐a┼┐a")]
    [InlineData("SELKÄ\u00A0EDELLÄ\u00A0MAAHAN via @YouTube")]
    [InlineData("café crème brûlée – naïve")]
    [InlineData("Ελληνικά русский 日本語 😀")]
    public void LeavesLegitimateTextAlone(string text) => Assert.Equal(text, EncodingFixer.FixEncoding(text));

    [Fact]
    public void MojibakePromptTokenizesLikeTheRepairedPrompt()
    {
        foreach (var tokenizer in new[] { TextTestData.Sd1, TextTestData.Sd2 })
            Assert.Equal(tokenizer.Encode("a sign that doesn't say café"), tokenizer.Encode("a sign that doesnâ€™t say cafÃ©"));
    }

    public static TheoryData<int> DocumentedCaseIndices() =>
        [.. FtfyReferenceData.Cases.Where(c => c.Source != "random").Select(c => c.Index)];

    /// <summary>ftfy's README, docs, docstrings and test_cases.json (fixed and must-stay-unchanged cases alike).</summary>
    [Theory]
    [MemberData(nameof(DocumentedCaseIndices))]
    public void DocumentedCaseMatchesFtfy(int index)
    {
        var c = FtfyReferenceData.Cases[index];
        Assert.Equal(c.FixEncoding, EncodingFixer.FixEncoding(c.Text));
        Assert.Equal(c.FixText, TextFixer.FixText(c.Text));
        if (c.Sd1 is not null) Assert.Equal(c.Sd1, TextTestData.Sd1.Encode(c.Text));
        if (c.Sd2 is not null) Assert.Equal(c.Sd2, TextTestData.Sd2.Encode(c.Text));
    }

    [Fact]
    public void RandomMojibakeMatchesFtfy()
    {
        var random = FtfyReferenceData.Cases.Where(c => c.Source == "random").ToList();
        var wrong = random
            .Where(c => EncodingFixer.FixEncoding(c.Text) != c.FixEncoding || TextFixer.FixText(c.Text) != c.FixText)
            .Select(c => $"{c} -> {FtfyReferenceData.Escape(TextFixer.FixText(c.Text))}, ftfy {FtfyReferenceData.Escape(c.FixText)}")
            .ToList();
        Assert.True(wrong.Count == 0, $"{wrong.Count} of {random.Count} differ:\n" + string.Join("\n", wrong.Take(20)));
        Assert.True(random.Count(c => c.FixEncoding != c.Text) > random.Count / 2, "most random cases should be repairs");
    }

    [Fact]
    public void BadnessMatchesFtfyOnEveryPair()
    {
        var data = FtfyReferenceData.Badness;
        int n = data.Alphabet.Length;
        var wrong = new List<string>();
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                string text = char.ConvertFromUtf32(data.Alphabet[i]) + char.ConvertFromUtf32(data.Alphabet[j]);
                if (Badness.IsBad(text) != data.Pairs[i * n + j]) wrong.Add($"{FtfyReferenceData.Escape(text)} ftfy {data.Pairs[i * n + j]}");
            }
        Assert.True(wrong.Count == 0, $"{wrong.Count} pairs differ:\n" + string.Join("\n", wrong.Take(20)));
    }

    [Fact]
    public void BadnessMatchesFtfyOnDrawnStrings()
    {
        var data = FtfyReferenceData.Badness;
        var wrong = FtfyReferenceData.DrawnStrings(data)
            .Select((text, i) => (text, expected: data.Random[i]))
            .Where(t => Badness.IsBad(t.text) != t.expected)
            .Select(t => $"{FtfyReferenceData.Escape(t.text)} ftfy {t.expected}")
            .ToList();
        Assert.True(wrong.Count == 0, $"{wrong.Count} of {data.Count} differ:\n" + string.Join("\n", wrong.Take(20)));
    }
}
