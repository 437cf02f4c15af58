using Deja.Diffusion.Pipelines;
using Deja.Diffusion.Text;
using Deja.Memorization.Detection;
using Deja.Memorization.Explanation;
using Deja.Memorization.Mitigation;
using Deja.Memorization.Models;
using Deja.Tensors;

namespace Deja.Memorization.Tests.Mitigation;

/// <summary>
/// Wen et al.'s prompt-embedding mitigation (METHODS.md §1.3) on the tiny golden pipelines: its loss is
/// explain's ℓ at the first step, its gradient matches finite differences, the first AdamW update has
/// its closed form (decay on every row, −lr·sign(g) elsewhere, BOS gradient zeroed), and the target
/// stops it before an update. The random-token baseline replays its seeded draws exactly.
/// </summary>
public class PromptMitigationTests
{
    static StableDiffusionView Tiny(string name) => new(StableDiffusionPipeline.Load(TestData.Golden(name)));

    [Theory]
    [InlineData("tiny-sd1")]
    [InlineData("tiny-sd2")]
    public void LossIsExplainsFirstStepLossAndItsGradientMatchesFiniteDifferences(string pipeline)
    {
        var view = Tiny(pipeline);
        var latents = InitialNoise.Seeded(view.LatentShape, 2, 5, SeedPolicy.Same).For(0);
        using var encoded = view.Encode(["an astronaut riding a horse"]);
        using var nullCondition = view.NullCondition();
        int t = view.Scheduler.Timesteps(50)[0];
        var loss = new NoiseDifferenceLoss(view, nullCondition, latents, t);
        var shape = encoded.Conditions.Shape;
        var e0 = encoded.Conditions.ToArray();
        double L(float[] v) { using var _ = GradMode.NoGrad(); return loss.Evaluate(Tensor.FromArray(v, shape)).Item(); }

        Assert.Equal(TokenSignificance.Loss(view, latents, t, encoded.Conditions, nullCondition), L(e0), 5);

        var leaf = Tensor.FromArray((float[])e0.Clone(), shape).RequireGrad();
        Tensor grad;
        using (GradMode.Set(true)) grad = Autograd.Grad(loss.Evaluate(leaf), leaf)!;
        var g = grad.ToArray();
        int width = shape[2];
        const float h = 1e-2f;
        foreach (int i in new[] { 1 * width + 3, 2 * width + 7, (shape[1] - 1) * width + 1 })
        {
            var plus = (float[])e0.Clone(); plus[i] += h;
            var minus = (float[])e0.Clone(); minus[i] -= h;
            double fd = (L(plus) - L(minus)) / (2 * h);
            Assert.True(Math.Abs(g[i] - fd) <= 0.03 * Math.Abs(fd) + 2e-4, $"{pipeline} coordinate {i}: autograd {g[i]:G6}, finite differences {fd:G6}");
        }
    }

    [Fact]
    public void FirstUpdateIsAdamWsClosedFormWithTheBosGradientZeroed()
    {
        var view = Tiny("tiny-sd1");
        var latents = InitialNoise.Seeded(view.LatentShape, 2, 5, SeedPolicy.Same).For(0);
        using var encoded = view.Encode(["a red apple on a table"]);
        using var nullCondition = view.NullCondition();
        int t = view.Scheduler.Timesteps(50)[0];
        var e0 = encoded.Conditions.ToArray();
        var leaf = Tensor.FromArray((float[])e0.Clone(), encoded.Conditions.Shape).RequireGrad();
        float[] g;
        using (GradMode.Set(true)) g = Autograd.Grad(new NoiseDifferenceLoss(view, nullCondition, latents, t).Evaluate(leaf), leaf)!.ToArray();

        var method = new PromptEmbeddingOptimization { Iterations = 1 };
        using var result = method.Optimize(view, encoded.Conditions, nullCondition, latents);
        Assert.Single(result.Losses);
        Assert.Equal(1, result.Updates);
        Assert.False(result.ReachedTarget);
        var e1 = result.Embedding.ToArray();
        int width = encoded.Conditions.Shape[2];
        float decay = (float)(1 - 0.05 * 0.01);
        for (int i = 0; i < e0.Length; i++)
        {
            // step 1 of Adam: m̂ = g, v̂ = g², so the update is lr·g/(|g| + eps) = lr·sign(g) for |g| ≫ eps
            double expected = i < width || g[i] == 0 ? e0[i] * decay : e0[i] * decay - 0.05 * g[i] / (Math.Abs(g[i]) + 1e-8);
            Assert.True(Math.Abs(e1[i] - expected) <= 2e-6 * (1 + Math.Abs(expected)), $"element {i} (BOS row: {i < width}): {e1[i]} vs {expected}");
        }
        Assert.Equal(e0, encoded.Conditions.ToArray()); // the caller's condition is not modified
    }

    [Fact]
    public void ATargetMetAtTheStartStopsBeforeAnyUpdate()
    {
        var view = Tiny("tiny-sd1");
        var latents = InitialNoise.Seeded(view.LatentShape, 1, 5, SeedPolicy.Same).For(0);
        using var encoded = view.Encode(["a cat"]);
        using var nullCondition = view.NullCondition();
        using var stopped = new PromptEmbeddingOptimization { TargetLoss = 1e9 }.Optimize(view, encoded.Conditions, nullCondition, latents);
        Assert.True(stopped.ReachedTarget);
        Assert.Equal(0, stopped.Updates);
        Assert.Equal(encoded.Conditions.ToArray(), stopped.Embedding.ToArray());

        using var full = new PromptEmbeddingOptimization { Iterations = 3 }.Optimize(view, encoded.Conditions, nullCondition, latents);
        Assert.Equal(3, full.Losses.Count);
        Assert.Equal(3, full.Updates);
        Assert.True(full.Losses[2] < full.Losses[0], $"the loss should fall over three updates: {string.Join(", ", full.Losses)}");
    }

    [Fact]
    public void BadSettingsAreRefused()
    {
        Assert.Throws<DejaException>(() => new PromptEmbeddingOptimization { LearningRate = -1 }.Validate());
        Assert.Throws<DejaException>(() => new PromptEmbeddingOptimization { Iterations = 0 }.Validate());
        Assert.Throws<DejaException>(() => new PromptEmbeddingOptimization { TargetLoss = double.NaN }.Validate());
        Assert.Throws<DejaException>(() => new PromptEmbeddingOptimization { Alpha = 2 }.Validate());
        Assert.Throws<DejaException>(() => new RandomTokenAugmentation { Repeat = -1 }.Validate());
        Assert.Throws<DejaException>(() => RandomTokenAugmentation.ParseKind("shuffle"));
    }

    [Theory]
    [InlineData(RandomTokenKind.WordAdd)]
    [InlineData(RandomTokenKind.NumberAdd)]
    [InlineData(RandomTokenKind.WordRepeat)]
    public void RandomTokensReplayTheirSeededDraws(RandomTokenKind kind)
    {
        var tokenizer = ClipTokenizer.Load(TestData.Tokenizer());
        const string prompt = "a large red circle at the top";
        var method = new RandomTokenAugmentation { Kind = kind, Repeat = 3 };
        string changed = method.Apply(prompt, new Generator(11), tokenizer);
        Assert.Equal(changed, method.Apply(prompt, new Generator(11), tokenizer));

        // the same draws by hand: the word, then its position among the words so far
        var g = new Generator(11);
        var words = prompt.Split(' ').ToList();
        var original = words.ToArray();
        for (int r = 0; r < 3; r++)
        {
            string word = kind switch
            {
                RandomTokenKind.WordAdd => tokenizer.Decode([g.NextInt(49400)]).Trim(),
                RandomTokenKind.NumberAdd => g.NextInt(100000).ToString(System.Globalization.CultureInfo.InvariantCulture),
                _ => original[g.NextInt(original.Length)],
            };
            words.Insert(g.NextInt(words.Count + 1), word);
        }
        Assert.Equal(string.Join(' ', words), changed);
        Assert.Equal(prompt.Split(' ').Length + 3, changed.Split(' ').Length);
        if (kind == RandomTokenKind.WordRepeat) Assert.All(changed.Split(' '), w => Assert.Contains(w, original));
        Assert.Equal(prompt, new RandomTokenAugmentation { Kind = kind, Repeat = 0 }.Apply(prompt, new Generator(1), tokenizer));
    }
}
