using Deja.Diffusion.Pipelines;
using Deja.Memorization.Detection;
using Deja.Memorization.Localization;
using Deja.Memorization.Models;
using Deja.Tensors;

namespace Deja.Memorization.Tests.Localization;

/// <summary>Bright Ending's end-token index and masks (METHODS.md §4.8).</summary>
public class BrightEndingTests
{
    static readonly Dictionary<string, StableDiffusionView> Views = [];
    static readonly object Gate = new();

    /// <summary>tiny-sd1 / tiny-sd2 (golden pipelines, CrossAttnDownBlock2D first) or deja-mini (bundled, DownBlock2D first, pixel space 32×32).</summary>
    internal static StableDiffusionView View(string name)
    {
        lock (Gate)
        {
            if (Views.TryGetValue(name, out var v)) return v;
            var dir = name == "deja-mini" ? Path.Combine(Path.GetDirectoryName(TestData.Root)!, "data", "models", "deja-mini") : TestData.Golden(name);
            return Views[name] = new StableDiffusionView(StableDiffusionPipeline.Load(dir));
        }
    }

    internal static readonly string[] Prompts = ["a cat", "a photograph of an astronaut riding a horse"];

    [Theory]
    [InlineData(2, 77, 1)]     // "": [BOS, EOS]
    [InlineData(4, 77, 3)]     // "a cat": [BOS, a, cat, EOS]
    [InlineData(76, 77, 75)]
    [InlineData(77, 77, 76)]   // exactly fits
    [InlineData(78, 77, 76)]   // one token too many: the EOS the truncation put at 76
    [InlineData(300, 77, 76)]
    [InlineData(10, 8, 7)]     // another model length
    public void EndTokenIndexIsTheLastIdCappedAtTheModelLength(int tokenCount, int maxLength, int expected)
    {
        Assert.Equal(expected, BrightEnding.EndTokenIndex(tokenCount, maxLength));
        if (maxLength == 77) Assert.Equal(expected, BrightEnding.EndTokenIndex(tokenCount));
    }

    [Fact]
    public void EndTokenIndexRefusesCountsWithoutBosAndEos()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => BrightEnding.EndTokenIndex(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => BrightEnding.EndTokenIndex(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => BrightEnding.EndTokenIndex(5, maxLength: 1));
    }

    [Theory]
    [InlineData("tiny-sd1")]
    [InlineData("tiny-sd2")]   // pads with another token than EOS
    public void TheTokenCountsOfEncodePointTheIndexAtTheEosToken(string model)
    {
        var view = View(model);
        var longPrompt = string.Join(" ", Enumerable.Repeat("red cat", 60));
        string[] prompts = ["a cat", "", "a photograph of an astronaut riding a horse", longPrompt];
        using var encoded = view.Encode(prompts);
        using var embeddings = view.Pipeline.TextEncoder.EncodePrompts(prompts);
        int eos = view.Pipeline.TextEncoder.Tokenizer.EosId;
        Assert.Equal(4, encoded.TokenCounts[0]);
        Assert.Equal(2, encoded.TokenCounts[1]);
        Assert.True(encoded.TokenCounts[3] > 77 && encoded.Truncated[3]);
        var ends = BrightEnding.EndTokenIndices(encoded.TokenCounts, encoded.Conditions.Shape[1]);
        Assert.Equal([3, 1], ends[..2]);
        Assert.Equal(76, ends[3]);
        for (int p = 0; p < prompts.Length; p++)
        {
            var ids = embeddings.Encodings[p].Ids;
            Assert.Equal(eos, ids[ends[p]]);
            Assert.NotEqual(eos, ids[ends[p] - 1]); // the first EOS, not padding after it
        }
    }

    [Theory]
    [InlineData("tiny-sd1", 0, 2, 16, 16)]
    [InlineData("tiny-sd2", 0, 2, 16, 16)]
    [InlineData("deja-mini", 1, 1, 16, 16)]   // down_blocks.0 is a DownBlock2D: the maps are at half the 32×32 resolution
    public void EndTokenMapsAverageTheEndTokenOfTheFirstCrossAttentionBlock(string model, int block, int layers, int h, int w)
    {
        var view = View(model);
        using var scope = TensorScope.Enter();
        var paths = BrightEnding.MaskLayerPaths(view);
        Assert.Equal(Enumerable.Range(0, layers).Select(j => $"down_blocks.{block}.attentions.{j}.transformer_blocks.0.attn2"), paths);
        Assert.Equal((h, w), BrightEnding.MapSize(view, view.LatentShape[1], view.LatentShape[2]));

        var encoded = view.Encode(Prompts);
        var ends = BrightEnding.EndTokenIndices(encoded.TokenCounts, encoded.Conditions.Shape[1]);
        var latents = Tensor.RandN(new Generator(5), [2, .. view.LatentShape]);
        const int t = 501;
        var maps = BrightEnding.EndTokenMaps(view, latents, t, encoded.Conditions, ends);
        Assert.Equal([2, h, w], maps.Shape);
        var m = maps.ToArray();
        Assert.All(m, v => Assert.InRange(v, 0f, 1f));

        // Reference: the hook's probabilities of every cross-attention layer whose path starts with the
        // block of the FIRST probabilities the forward reports (the first cross-attention down block).
        var probs = new List<(string Path, float[] Data, int[] Shape)>();
        using (GradMode.NoGrad())
            view.Forward(latents, t, encoded.Conditions, (path, x) =>
            {
                if (path.EndsWith(".attention_probs", StringComparison.Ordinal)) probs.Add((path, x.ToArray(), (int[])x.Shape.Clone()));
            });
        var firstBlock = string.Join('.', probs[0].Path.Split('.')[..2]);
        Assert.Equal($"down_blocks.{block}", firstBlock);
        var selected = probs.Where(p => p.Path.StartsWith(firstBlock + ".", StringComparison.Ordinal)).ToList();
        Assert.Equal(layers, selected.Count);
        Assert.True(probs.Count > selected.Count, "the mid and up blocks report probabilities too, and are left out");
        int lk = encoded.Conditions.Shape[1];
        for (int r = 0; r < 2; r++)
            for (int q = 0; q < h * w; q++)
            {
                double expected = selected.Average(s => (double)s.Data[(r * h * w + q) * lk + ends[r]]);
                Assert.True(Math.Abs(expected - m[r * h * w + q]) < 1e-6, $"{model} map[{r}, {q}] {m[r * h * w + q]} vs {expected}");
            }

        // the end token matters: the token before it gives other maps
        var before = BrightEnding.EndTokenMaps(view, latents, t, encoded.Conditions, ends.Select(e => e - 1).ToArray()).ToArray();
        Assert.True(m.Zip(before, (a, b) => Math.Abs(a - b)).Max() > 1e-4, $"{model}: the maps of the end token and the token before it agree");

        // the EncodedConditions overload: n rows per prompt, prompt-major
        var two = Ops.Concat([Ops.Narrow(latents, 0, 0, 1), Ops.Narrow(latents, 0, 0, 1), Ops.Narrow(latents, 0, 1, 1), Ops.Narrow(latents, 0, 1, 1)], 0);
        var perPrompt = BrightEnding.EndTokenMaps(view, two, t, encoded).ToArray();
        int size = h * w;
        for (int i = 0; i < size; i++)
        {
            Assert.Equal(m[i], perPrompt[i], 1e-6);
            Assert.Equal(m[i], perPrompt[size + i], 1e-6);
            Assert.Equal(m[size + i], perPrompt[3 * size + i], 1e-6);
        }
    }

    [Fact]
    public void EndTokenMapsCheckTheirInputs()
    {
        var view = View("tiny-sd1");
        using var scope = TensorScope.Enter();
        var encoded = view.Encode(Prompts);
        var latents = Tensor.RandN(new Generator(5), [2, .. view.LatentShape]);
        Assert.Contains("end-token indices for 2 rows", Assert.Throws<ArgumentException>(() => BrightEnding.EndTokenMaps(view, latents, 1, encoded.Conditions, [3])).Message);
        Assert.Contains("outside the 77 condition tokens", Assert.Throws<ArgumentException>(() => BrightEnding.EndTokenMaps(view, latents, 1, encoded.Conditions, [3, 77])).Message);
        Assert.Contains("conditions must be", Assert.Throws<ArgumentException>(() => BrightEnding.EndTokenMaps(view, Ops.Narrow(latents, 0, 0, 1), 1, encoded.Conditions, [3])).Message);
    }

    [Fact]
    public void TheAnalyticModelHasNoMasks()
    {
        var model = GaussianMixtureDemo.Create(seed: 3);
        using var scope = TensorScope.Enter();
        var encoded = model.Encode([model.Conditions[0].Prompt]);
        var latents = Tensor.RandN(new Generator(1), [1, .. model.LatentShape]);
        var e = Assert.Throws<DejaException>(() => BrightEnding.EndTokenMaps(model, latents, 1, encoded.Conditions, [1]));
        Assert.Contains("cross-attention", e.Message);
        Assert.Contains("analytic", e.Message);
        Assert.Throws<DejaException>(() => BrightEnding.MaskLayerPaths(model));
        Assert.Throws<DejaException>(() => new BrightEndingDetector().Parameters(model));
        var batch = new PromptBatch(encoded.Conditions, model.NullCondition(), [latents], encoded.TokenCounts);
        Assert.Throws<DejaException>(() => new BrightEndingDetector().Score(model, batch));
    }

    [Fact]
    public void ResizeIsPyTorchsBilinearWithoutAlignedCorners()
    {
        // F.interpolate(torch.tensor([[[[0., 1.], [2., 3.]]]]), size=(4, 4), mode="bilinear", align_corners=False)
        float[] expected =
        [
            0.00f, 0.25f, 0.75f, 1.00f,
            0.50f, 0.75f, 1.25f, 1.50f,
            1.50f, 1.75f, 2.25f, 2.50f,
            2.00f, 2.25f, 2.75f, 3.00f,
        ];
        var up = BrightEnding.Resize(Tensor.FromArray([0f, 1f, 2f, 3f], 1, 2, 2), 4, 4);
        Assert.Equal([1, 4, 4], up.Shape);
        var got = up.ToArray();
        for (int i = 0; i < 16; i++) Assert.Equal(expected[i], got[i], 1e-6);
        // [[0, 1, 2]] to width 2: sources 0.25 and 1.75 → 0.25, 1.75; the same size is a copy
        Assert.Equal([0.25f, 1.75f], BrightEnding.Resize(Tensor.FromArray([0f, 1f, 2f], 1, 1, 3), 1, 2).ToArray());
        Assert.Equal([0f, 1f, 2f], BrightEnding.Resize(Tensor.FromArray([0f, 1f, 2f], 1, 1, 3), 1, 3).ToArray());
    }
}
