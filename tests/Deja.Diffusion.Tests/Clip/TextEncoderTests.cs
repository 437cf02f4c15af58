using Deja.Diffusion.IO;
using Deja.Diffusion.Models.Clip;
using Deja.Tensors;
using static Deja.Diffusion.Tests.Clip.ClipTestData;

namespace Deja.Diffusion.Tests.Clip;

/// <summary>Tokenizer → text encoder end to end against the goldens.</summary>
public class TextEncoderTests
{
    const double Tolerance = 1e-5;

    [Theory]
    [InlineData("sd1")]
    [InlineData("sd2")]
    public void GoldenPromptsTokenizeAndEncodeLikeTheReference(string model)
    {
        using var g = Goldens(model);
        var encoder = Encoder(model);
        using var result = encoder.EncodePrompts(GoldenPrompts());

        var goldenIds = Rows(g.ReadInt64("input_ids"));
        for (int i = 0; i < goldenIds.Length; i++) Assert.Equal(goldenIds[i], result.Encodings[i].Ids);
        Near(g.ReadTensor("last_hidden_state"), result.Embeddings, Tolerance, "embeddings");

        Assert.Equal([false, false, false, true], result.Encodings.Select(e => e.Truncated));
        Assert.Equal(90, result.Encodings[3].UntruncatedLength);
        Assert.Equal(2, result.Encodings[0].Length);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4)]
    public void BatchSizeDoesNotChangeTheResult(int batchSize)
    {
        var loaded = Encoder("sd1");
        var encoder = new TextEncoder(loaded.Tokenizer, loaded.Model) { BatchSize = batchSize };
        using var g = Goldens("sd1");
        using var result = encoder.EncodePrompts(GoldenPrompts());
        Assert.Equal([4, 77, 32], result.Embeddings.Shape);
        Near(g.ReadTensor("last_hidden_state"), result.Embeddings, Tolerance, $"batch size {batchSize}");
    }

    [Theory]
    [InlineData("sd1")]
    [InlineData("sd2")]
    public void PipelinePromptEmbeddingsMatch(string model)
    {
        using var g = SafeTensorsFile.Open(TestData.Golden("golden", $"{model}_pipeline.safetensors"));
        var expected = g.ReadTensor("prompt_embeds_cfg");
        var encoder = Encoder(model);
        using var uncond = encoder.EncodeUnconditional();
        using var cond = encoder.EncodePrompts(["a photograph of an astronaut riding a horse"]);
        using var cfg = Ops.Concat([uncond, cond.Embeddings], 0);
        Near(expected, cfg, Tolerance, "prompt_embeds_cfg");
    }

    [Fact]
    public void DetectionPromptEmbeddingsMatch()
    {
        using var g = SafeTensorsFile.Open(TestData.Golden("golden", "sd1_detection.safetensors"));
        string[] prompts = ["The No Limits Business Woman Podcast", "Mothers influence on her young hippo", "a photograph of an astronaut riding a horse"];
        var encoder = Encoder("sd1");
        using var cond = encoder.EncodePrompts(prompts);
        Assert.Equal(Rows(g.ReadInt64("cond_ids")), cond.Encodings.Select(e => e.Ids).ToArray());
        Near(g.ReadTensor("cond_embeds"), cond.Embeddings, Tolerance, "cond_embeds");
        using var uncond = encoder.EncodeUnconditional();
        Near(g.ReadTensor("uncond_embed"), uncond, Tolerance, "uncond_embed");
    }

    [Fact]
    public void UnconditionalIsCachedAndEachCallGetsItsOwnCopy()
    {
        var encoder = Encoder("sd1");
        var first = encoder.EncodeUnconditional();
        var expected = first.ToArray();
        first.Span.Fill(123f); // a caller scribbling on its copy
        first.Dispose();
        using var second = encoder.EncodeUnconditional();
        Assert.Equal(expected, second.ToArray());
        using var direct = encoder.EncodePrompts([""]);
        Near(direct.Embeddings, second, 0, "unconditional vs \"\"");
    }

    [Fact]
    public void EncodingRecordsNoGraphAndLoadedWeightsAreFrozen()
    {
        var encoder = Encoder("sd2");
        Assert.All(encoder.Model.Parameters(), p => Assert.False(p.RequiresGrad));
        using var r = encoder.EncodePrompts(["a cat"]);
        Assert.False(r.Embeddings.RequiresGrad);
    }

    [Fact]
    public void BadArgumentsAreRejected()
    {
        var encoder = Encoder("sd1");
        Assert.Throws<ArgumentException>(() => encoder.EncodePrompts([]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TextEncoder(encoder.Tokenizer, encoder.Model) { BatchSize = 0 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new TextEncoder(encoder.Tokenizer, encoder.Model, clipSkip: 5));
        var ragged = Assert.Throws<ArgumentException>(() => new TextEncoder(encoder.Tokenizer, encoder.Model) { BatchSize = 1 }.EncodeIds([[49406, 49407], [49406]]));
        Assert.Contains("equal lengths", ragged.Message);
        // sd2's hidden size differs, but the tokenizers are interchangeable; a too-small vocabulary is not.
        var small = new ClipTextModel(ClipTextConfigs.Tiny(vocab: 1000, positions: 77));
        var e = Assert.Throws<DejaException>(() => new TextEncoder(encoder.Tokenizer, small));
        Assert.Contains("vocabulary", e.Message);
    }

    [Fact]
    public void ClipSkipAppliesToPrompts()
    {
        var loaded = Encoder("sd2");
        var skipping = new TextEncoder(loaded.Tokenizer, loaded.Model, clipSkip: 1);
        using var r = skipping.EncodePrompts(["a photograph of an astronaut riding a horse"]);
        using var _ = GradMode.NoGrad();
        using var expected = loaded.Model.Forward([r.Encodings[0].Ids], clipSkip: 1);
        Near(expected, r.Embeddings, 0, "clip skip 1");
    }
}
