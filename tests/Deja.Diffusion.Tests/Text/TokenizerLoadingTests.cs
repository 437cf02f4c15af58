using System.Diagnostics;
using Deja.Diffusion.Text;

namespace Deja.Diffusion.Tests.Text;

public sealed class TokenizerLoadingTests : IDisposable
{
    readonly string folder = Path.Combine(Path.GetTempPath(), "deja-tok-" + Guid.NewGuid().ToString("N"));

    public TokenizerLoadingTests()
    {
        Directory.CreateDirectory(folder);
        foreach (string file in Directory.GetFiles(TestData.Golden("tiny-sd2", "tokenizer")))
            File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
    }

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public void ReadsSpecialTokensAndLimits()
    {
        var sd1 = TextTestData.Sd1;
        Assert.Equal((49406, 49407, 49407, 49407), (sd1.BosId, sd1.EosId, sd1.PadId, sd1.UnkId));
        Assert.Equal("<|endoftext|>", sd1.PadToken);
        var sd2 = ClipTokenizer.Load(folder);
        Assert.Equal((49406, 49407, 0), (sd2.BosId, sd2.EosId, sd2.PadId));
        Assert.Equal("!", sd2.PadToken);
        Assert.Equal(77, sd2.ModelMaxLength);
        Assert.Contains(sd2.AddedTokens, t => t.Content == "!" && t.Id == 0);
    }

    [Fact]
    public void LoadsQuickly()
    {
        ClipTokenizer.Load(folder); // warm-up (JIT)
        var watch = Stopwatch.StartNew();
        var tokenizer = ClipTokenizer.Load(folder);
        watch.Stop();
        Assert.Equal(49408, tokenizer.VocabularySize);
        Assert.True(watch.ElapsedMilliseconds < 1000, $"loading took {watch.ElapsedMilliseconds} ms");
    }

    [Theory]
    [InlineData("vocab.json")]
    [InlineData("merges.txt")]
    [InlineData("special_tokens_map.json")]
    [InlineData("tokenizer_config.json")]
    public void MissingFileIsNamed(string file)
    {
        File.Delete(Path.Combine(folder, file));
        var e = Assert.Throws<TokenizerFileException>(() => ClipTokenizer.Load(folder));
        Assert.Equal(Path.Combine(folder, file), e.FilePath);
        Assert.Contains(file, e.Message);
        Assert.Contains("not found", e.Message);
    }

    [Theory]
    [InlineData("vocab.json", "{\"a\": 1,")]
    [InlineData("vocab.json", "[1, 2]")]
    [InlineData("vocab.json", "{\"a\": \"one\"}")]
    [InlineData("merges.txt", "#version: 0.2\ni n\nt h e\n")]
    [InlineData("merges.txt", "#version: 0.2\n")]
    [InlineData("special_tokens_map.json", "not json")]
    [InlineData("tokenizer_config.json", "{\"added_tokens_decoder\": {\"x\": {\"content\": \"!\"}}}")]
    [InlineData("special_tokens_map.json", "{\"pad_token\": 5}")]
    public void CorruptFileIsNamed(string file, string content)
    {
        File.WriteAllText(Path.Combine(folder, file), content);
        var e = Assert.Throws<TokenizerFileException>(() => ClipTokenizer.Load(folder));
        Assert.Equal(Path.Combine(folder, file), e.FilePath);
        Assert.Contains(file, e.Message);
    }

    [Fact]
    public void InvalidUtf8MergesAreNamed()
    {
        File.WriteAllBytes(Path.Combine(folder, "merges.txt"), [.. "#version: 0.2\ni n\n"u8, 0xFF, (byte)' ', (byte)'a', (byte)'\n']);
        var e = Assert.Throws<TokenizerFileException>(() => ClipTokenizer.Load(folder));
        Assert.Contains("UTF-8", e.Message);
    }

    /// <summary>
    /// Fuzzing (tokenizer-config, seed 1, input 3 and 47 others): JsonDocument accepts invalid UTF-8 inside
    /// a string and threw InvalidOperationException only when the token was read.
    /// </summary>
    [Theory]
    [InlineData("tokenizer_config.json")]
    [InlineData("special_tokens_map.json")]
    public void InvalidUtf8InsideAJsonStringIsNamed(string file)
    {
        File.WriteAllBytes(Path.Combine(folder, file), [.. "{\"pad_token\": \"a"u8, 0xC0, 0xAF, .. "\"}"u8]);
        var e = Assert.Throws<TokenizerFileException>(() => ClipTokenizer.Load(folder));
        Assert.Contains(file, e.Message);
        Assert.Contains("not valid UTF-8", e.Message);
    }

    [Fact]
    public void ImplausibleModelMaxLengthIsRefused()
    {
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), "{\"model_max_length\": 100000000}");
        Assert.Contains("model_max_length 100000000 is implausible", Assert.Throws<TokenizerFileException>(() => ClipTokenizer.Load(folder)).Message);
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), "{\"model_max_length\": 1000000000000000019884624838656}");
        Assert.Equal(77, ClipTokenizer.Load(folder).ModelMaxLength); // transformers' "no limit"
    }

    [Fact]
    public void MissingFolderIsNamed()
    {
        string missing = Path.Combine(folder, "nope");
        var e = Assert.Throws<TokenizerFileException>(() => ClipTokenizer.Load(missing));
        Assert.Equal(missing, e.FilePath);
    }

    [Fact]
    public void OlderConfigsWithoutAddedTokensStillAddThePadToken()
    {
        // stabilityai/stable-diffusion-2's tokenizer_config.json predates "added_tokens_decoder"; the
        // special tokens still become added tokens, so "!" is still split out as id 0.
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"),
            "{\"model_max_length\": 77, \"pad_token\": \"!\", \"bos_token\": \"<|startoftext|>\", \"eos_token\": \"<|endoftext|>\"}");
        var tokenizer = ClipTokenizer.Load(folder);
        Assert.Equal([49406, 3306, 0, 49407], tokenizer.Encode("hello!"));
    }

    [Fact]
    public void RightStripRemovesWhitespaceAfterTheTokenBeforeFtfy()
    {
        // U+0085 is whitespace to Python's strip() but ftfy would turn it into "…": the order matters.
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"),
            "{\"added_tokens_decoder\": {\"0\": {\"content\": \"!\", \"rstrip\": true, \"special\": true}}}");
        var stripping = ClipTokenizer.Load(folder);
        Assert.Equal(stripping.Encode("!cat"), stripping.Encode("!\u0085cat"));
        Assert.NotEqual(TextTestData.Sd2.Encode("!cat"), TextTestData.Sd2.Encode("!\u0085cat"));
    }

    [Fact]
    public void NoLimitModelMaxLengthFallsBackTo77()
    {
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), "{\"model_max_length\": 1000000000000000019884624838656}");
        Assert.Equal(77, ClipTokenizer.Load(folder).ModelMaxLength);
    }
}
