using Deja.Diffusion.Pipelines;
using Deja.Memorization.Detection;
using Deja.Memorization.Mitigation;
using Deja.Memorization.Models;
using Deja.Tensors;

namespace Deja.Memorization.Tests.Mitigation;

/// <summary>
/// prompt-anisotropy's loss (METHODS.md §3.2 b) is the anisotropy detector's score made differentiable:
/// at the prompt's own embedding it equals the detector's score (ε-model and the code-faithful v-branch),
/// and its gradient matches finite differences.
/// </summary>
public class AnisotropyLossTests
{
    static StableDiffusionView Tiny(string name) => new(StableDiffusionPipeline.Load(TestData.Golden(name)));

    [Theory]
    [InlineData("tiny-sd1")]
    [InlineData("tiny-sd2")]
    public void AtThePromptsEmbeddingItIsTheDetectorsScoreAndItsGradientMatchesFiniteDifferences(string pipeline)
    {
        var view = Tiny(pipeline);
        var latents = InitialNoise.Seeded(view.LatentShape, 2, 9, SeedPolicy.Same).For(0);
        using var encoded = view.Encode(["an astronaut riding a horse"]);
        using var nullCondition = view.NullCondition();
        var detector = new AnisotropyDetector();
        double score = detector.Score(view, new PromptBatch(encoded.Conditions, nullCondition, [latents]))[0]["anisotropy"];
        using var loss = new AnisotropyLoss(view, detector, nullCondition, latents);
        var shape = encoded.Conditions.Shape;
        var e0 = encoded.Conditions.ToArray();
        double L(float[] v) { using var _ = GradMode.NoGrad(); return loss.Evaluate(Tensor.FromArray(v, shape)).Item(); }
        Assert.True(Math.Abs(L(e0) - score) <= 1e-4 * Math.Abs(score) + 1e-5, $"{pipeline}: loss {L(e0):G8}, detector {score:G8}");

        var leaf = Tensor.FromArray((float[])e0.Clone(), shape).RequireGrad();
        float[] g;
        using (GradMode.Set(true)) g = Autograd.Grad(loss.Evaluate(leaf), leaf)!.ToArray();
        int width = shape[2];
        const float h = 1e-2f;
        foreach (int i in new[] { 1 * width + 2, 3 * width + 5, (shape[1] - 1) * width })
        {
            var plus = (float[])e0.Clone(); plus[i] += h;
            var minus = (float[])e0.Clone(); minus[i] -= h;
            double fd = (L(plus) - L(minus)) / (2 * h);
            Assert.True(Math.Abs(g[i] - fd) <= 0.05 * Math.Abs(fd) + 5e-4, $"{pipeline} coordinate {i}: autograd {g[i]:G6}, finite differences {fd:G6}");
        }
    }

    [Fact]
    public void OtherCosineModesAreRefused()
    {
        var view = Tiny("tiny-sd1");
        using var nullCondition = view.NullCondition();
        var latents = InitialNoise.Seeded(view.LatentShape, 1, 9, SeedPolicy.Same).For(0);
        var e = Assert.Throws<DejaException>(() => new AnisotropyLoss(view, new AnisotropyDetector { Mode = AnisotropyMode.CondVsUncond }, nullCondition, latents));
        Assert.Contains("x,c|x", e.Message);
    }
}
