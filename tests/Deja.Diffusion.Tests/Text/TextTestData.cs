using Deja.Diffusion.Text;

namespace Deja.Diffusion.Tests.Text;

/// <summary>Shared inputs of the tokenizer tests.</summary>
public static class TextTestData
{
    static readonly Lazy<ClipTokenizer> sd1 = new(() => ClipTokenizer.Load(TestData.Golden("tiny-sd1", "tokenizer")));
    static readonly Lazy<ClipTokenizer> sd2 = new(() => ClipTokenizer.Load(TestData.Golden("tiny-sd2", "tokenizer")));

    /// <summary>tiny-sd1's tokenizer (pad = &lt;|endoftext|&gt; = 49407).</summary>
    public static ClipTokenizer Sd1 => sd1.Value;
    /// <summary>tiny-sd2's tokenizer (pad = "!" = 0, an added token).</summary>
    public static ClipTokenizer Sd2 => sd2.Value;

    /// <summary>A file of tests/Deja.Diffusion.Tests/Text/Data (written by Tools/make_oracle_data.py).</summary>
    public static string Data(string file) =>
        Path.Combine(TestData.Root, "..", "tests", "Deja.Diffusion.Tests", "Text", "Data", file);

    /// <summary>The benchmark prompt files of testdata/prompts (the licence text excluded).</summary>
    public static IEnumerable<string> PromptFiles() =>
        Directory.GetFiles(Path.Combine(TestData.Root, "prompts"))
            .Where(f => f.EndsWith(".txt", StringComparison.Ordinal) || f.EndsWith(".jsonl", StringComparison.Ordinal))
            .Where(f => !Path.GetFileName(f).StartsWith("LICENSE", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal);
}
