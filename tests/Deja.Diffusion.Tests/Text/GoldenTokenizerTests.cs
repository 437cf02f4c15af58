using System.Text;
using System.Text.Json;
using Deja.Diffusion.Text;

namespace Deja.Diffusion.Tests.Text;

/// <summary>The 20 tokenizer goldens of testdata/golden (transformers' slow CLIPTokenizer with ftfy).</summary>
public class GoldenTokenizerTests
{
    sealed record Golden(int Index, string Prompt, int[] Sd1, int[] Sd2, string[] BpeTokens, int UntruncatedLength, bool Truncated);

    static readonly Lazy<Golden[]> goldens = new(() =>
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(TestData.Golden("golden", "tokenizer.json")));
        return [.. doc.RootElement.GetProperty("prompts").EnumerateArray().Select(p => new Golden(
            p.GetProperty("index").GetInt32(),
            p.GetProperty("prompt").GetString()!,
            [.. p.GetProperty("ids_unpadded").EnumerateArray().Select(e => e.GetInt32())],
            [.. p.GetProperty("ids_unpadded_sd2").EnumerateArray().Select(e => e.GetInt32())],
            [.. p.GetProperty("bpe_tokens").EnumerateArray().Select(e => e.GetString()!)],
            p.GetProperty("untruncated_length").GetInt32(),
            p.GetProperty("truncated").GetBoolean()))];
    });

    public static TheoryData<int> Indices() => [.. Enumerable.Range(0, 20)];

    [Fact]
    public void GoldenFileHasTwentyPrompts() => Assert.Equal(20, goldens.Value.Length);

    [Theory]
    [MemberData(nameof(Indices))]
    public void Sd1MatchesGolden(int index)
    {
        var g = goldens.Value[index];
        var e = TextTestData.Sd1.EncodePadded(g.Prompt, 77);
        Assert.Equal(Padded(g.Sd1, 49407), e.Ids);
        Assert.Equal(g.BpeTokens, e.Tokens);
        Assert.Equal(g.UntruncatedLength, e.UntruncatedLength);
        Assert.Equal(g.Truncated, e.Truncated);
        Assert.Equal(g.Sd1.Length, e.Length);
        if (!g.Truncated) Assert.Equal(g.Sd1, TextTestData.Sd1.Encode(g.Prompt));
    }

    [Theory]
    [MemberData(nameof(Indices))]
    public void Sd2MatchesGolden(int index)
    {
        var g = goldens.Value[index];
        var e = TextTestData.Sd2.EncodePadded(g.Prompt);
        Assert.Equal(Padded(g.Sd2, 0), e.Ids);
        Assert.Equal(g.Sd2.Length, e.Length);
        Assert.Equal(g.Truncated, e.Truncated);
    }

    [Fact]
    public void PaddedIdsMatchTokenizerSafetensors()
    {
        var tensors = ReadI64Tensors(TestData.Golden("golden", "tokenizer.safetensors"));
        var (sd1Shape, sd1) = tensors["ids_sd1"];
        var (sd2Shape, sd2) = tensors["ids_sd2"];
        var (_, lengths) = tensors["lengths"];
        var (_, mask) = tensors["attention_mask"];
        Assert.Equal([20L, 77L], sd1Shape);
        Assert.Equal([20L, 77L], sd2Shape);
        for (int i = 0; i < 20; i++)
        {
            string prompt = goldens.Value[i].Prompt;
            var e1 = TextTestData.Sd1.EncodePadded(prompt);
            Assert.Equal(sd1.AsSpan(i * 77, 77).ToArray(), e1.Ids.Select(id => (long)id).ToArray());
            Assert.Equal(sd2.AsSpan(i * 77, 77).ToArray(), TextTestData.Sd2.EncodePadded(prompt).Ids.Select(id => (long)id).ToArray());
            Assert.Equal(lengths[i], e1.Length);
            Assert.Equal(e1.Length, mask.AsSpan(i * 77, 77).ToArray().Count(m => m == 1));
        }
    }

    [Fact]
    public void Sd2SplitsExclamationMarksAsPadToken()
    {
        // "!" is SD2's pad token and an added token: it is cut out before BPE and becomes id 0.
        Assert.Contains(256, TextTestData.Sd1.Encode("Hello, world!"));          // "!</w>"
        Assert.Equal([49406, 3306, 267, 1002, 0, 49407], TextTestData.Sd2.Encode("Hello, world!"));
        Assert.Equal([49406, 748, 49407], TextTestData.Sd1.Encode("!!"));        // "!!</w>"
        Assert.Equal([49406, 0, 0, 49407], TextTestData.Sd2.Encode("!!"));
        // The neighbouring word loses its continuation: "😀" + "!!</w>" in SD1, "😀</w>" then two pads in SD2.
        Assert.Equal([49406, 12832, 748, 49407], TextTestData.Sd1.Encode("\U0001F600!!"));
        Assert.Equal([49406, 7334, 0, 0, 49407], TextTestData.Sd2.Encode("\U0001F600!!"));
        Assert.Equal(0, TextTestData.Sd2.PadId);
        Assert.Equal(49407, TextTestData.Sd1.PadId);
        // Padding with 0 looks like "!" to the text encoder, exactly as in the SD2 pipelines.
        Assert.Equal(0, TextTestData.Sd2.EncodePadded("a cat").Ids[^1]);
    }

    [Fact]
    public void TruncationKeepsFirst75TokensAndEos()
    {
        string prompt = string.Join(' ', Enumerable.Range(0, 100).Select(i => "cat"));
        var e = TextTestData.Sd1.EncodePadded(prompt);
        Assert.True(e.Truncated);
        Assert.Equal(102, e.UntruncatedLength);
        Assert.Equal(77, e.Length);
        Assert.Equal(49406, e.Ids[0]);
        Assert.Equal(49407, e.Ids[76]);
        Assert.All(e.Ids[1..76], id => Assert.Equal(2368, id));
        var shorter = TextTestData.Sd1.EncodePadded(prompt, 10);
        Assert.Equal(10, shorter.Ids.Length);
        Assert.Equal(49407, shorter.Ids[9]);
        Assert.Throws<ArgumentOutOfRangeException>(() => TextTestData.Sd1.EncodePadded("a", 1));
    }

    [Fact]
    public void TokensCanBeShownAndDecoded()
    {
        var tokens = TextTestData.Sd1.Tokenize("Café cat!");
        Assert.Equal(["caf\u00C3\u00A9</w>", "cat</w>", "!</w>"], tokens);
        Assert.Equal(["café·", "cat·", "!·"], tokens.Select(ClipTokenizer.ToReadable));
        Assert.Equal("café cat !", TextTestData.Sd1.Decode(TextTestData.Sd1.Encode("Café cat!")));
        Assert.Equal("東京", TextTestData.Sd1.Decode(TextTestData.Sd1.Encode("東京")));
        Assert.Equal("<|startoftext|>", TextTestData.Sd1.IdToToken(49406));
        Assert.Equal(49408, TextTestData.Sd1.VocabularySize);
        Assert.Equal(77, TextTestData.Sd1.ModelMaxLength);
    }

    static int[] Padded(int[] ids, int pad) => [.. ids, .. Enumerable.Repeat(pad, 77 - ids.Length)];

    // The goldens' safetensors: u64 header length, JSON header, little-endian data after it.
    static Dictionary<string, (long[] Shape, long[] Values)> ReadI64Tensors(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        int headerLength = (int)BitConverter.ToUInt64(bytes, 0);
        using var header = JsonDocument.Parse(Encoding.UTF8.GetString(bytes, 8, headerLength));
        var result = new Dictionary<string, (long[], long[])>();
        foreach (var t in header.RootElement.EnumerateObject())
        {
            if (t.Name == "__metadata__" || t.Value.GetProperty("dtype").GetString() != "I64") continue;
            long[] shape = [.. t.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64())];
            var offsets = t.Value.GetProperty("data_offsets");
            int begin = 8 + headerLength + offsets[0].GetInt32(), end = 8 + headerLength + offsets[1].GetInt32();
            var values = new long[(end - begin) / 8];
            for (int i = 0; i < values.Length; i++) values[i] = BitConverter.ToInt64(bytes, begin + 8 * i);
            result[t.Name] = (shape, values);
        }
        return result;
    }
}
