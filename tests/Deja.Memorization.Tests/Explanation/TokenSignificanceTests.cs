using Deja.Diffusion.Pipelines;
using Deja.Memorization.Detection;
using Deja.Memorization.Explanation;
using Deja.Memorization.Models;
using Deja.Tensors;

namespace Deja.Memorization.Tests.Explanation;

/// <summary>
/// Token significance (METHODS.md §1.2) on the tiny golden pipelines: G[p] = ‖∂ℓ/∂e_c[p, :]‖ equals the
/// norm of the gradient that central finite differences of ℓ give, coordinate by coordinate, for an
/// ε-model and a v-model; batching does not change it; the reference code's swapped guidance changes
/// nothing at the first step and the trajectory after it.
/// </summary>
public class TokenSignificanceTests
{
    static StableDiffusionView Tiny(string name) => new(StableDiffusionPipeline.Load(TestData.Golden(name)));

    [Theory]
    [InlineData("tiny-sd1")]
    [InlineData("tiny-sd2")]
    public void SignificanceIsTheNormOfTheFiniteDifferenceGradient(string pipeline)
    {
        var view = Tiny(pipeline);
        const string prompt = "a photograph of an astronaut riding a horse";
        var noise = InitialNoise.Seeded(view.LatentShape, 2, 7, SeedPolicy.Same);
        using var encoded = view.Encode([prompt]);
        using var nullCondition = view.NullCondition();
        var batch = new PromptBatch(encoded.Conditions, nullCondition, [noise.For(0)]);
        var g = new TokenSignificance().Compute(view, batch)[0];

        int t = view.Scheduler.Timesteps(50)[0];
        var e = encoded.Conditions.ToArray();
        int positions = encoded.Conditions.Shape[1], width = encoded.Conditions.Shape[2];
        double Loss(float[] values) => TokenSignificance.Loss(view, noise.For(0), t, Tensor.FromArray(values, encoded.Conditions.Shape), nullCondition);
        const float h = 1e-2f;
        foreach (int p in new[] { 1, 4, positions - 1 })
        {
            double s2 = 0;
            for (int d = 0; d < width; d++)
            {
                int i = p * width + d;
                var plus = (float[])e.Clone(); plus[i] += h;
                var minus = (float[])e.Clone(); minus[i] -= h;
                double derivative = (Loss(plus) - Loss(minus)) / (2 * h);
                s2 += derivative * derivative;
            }
            double fd = Math.Sqrt(s2);
            Assert.True(Math.Abs(g[p] - fd) <= 0.03 * fd + 1e-4, $"{pipeline} position {p}: autograd {g[p]:G6}, finite differences {fd:G6}");
        }
        Assert.Equal(positions, g.Length);
        Assert.All(g, v => Assert.True(v >= 0 && double.IsFinite(v)));
    }

    [Fact]
    public void BatchingPromptsGivesEachItsOwnSignificance()
    {
        var view = Tiny("tiny-sd1");
        string[] prompts = ["a red apple on a table", "an astronaut riding a horse on the moon", "a cat"];
        var noise = InitialNoise.Seeded(view.LatentShape, 2, 3, SeedPolicy.Index);
        var method = new TokenSignificance();
        var together = new ExplainRun { Model = view, Method = method, Noise = noise, BatchSize = 3 }.Run(prompts).SelectMany(b => b).ToArray();
        var alone = new ExplainRun { Model = view, Method = method, Noise = noise, BatchSize = 1 }.Run(prompts).SelectMany(b => b).ToArray();
        for (int i = 0; i < prompts.Length; i++)
            for (int k = 0; k < together[i].Tokens.Count; k++)
                Assert.True(DeterminismContract.Agree("significance", alone[i].Tokens[k].Significance, together[i].Tokens[k].Significance),
                    $"prompt {i} token {k}: alone {alone[i].Tokens[k].Significance:R}, batched {together[i].Tokens[k].Significance:R}");
    }

    [Fact]
    public void RowsShowTheRealTokensOnly()
    {
        var view = Tiny("tiny-sd1");
        var run = new ExplainRun { Model = view, Method = new TokenSignificance(), Noise = InitialNoise.Seeded(view.LatentShape, 1, 1, SeedPolicy.Same) };
        var row = run.Run(["a cat on a mat"]).Single().Single();
        Assert.Equal([1, 2, 3, 4, 5], row.Tokens.Select(t => t.Position));
        Assert.Equal("cat", row.Tokens[1].Token.TrimEnd('·', ' '));
        Assert.False(row.Truncated);
        var json = row.ToJson();
        Assert.Equal(5, json["tokens"]!.AsArray().Count);
        Assert.Equal(1, (int)json["tokens"]![0]!["position"]!);
    }

    [Fact]
    public void SwappedGuidanceChangesNothingAtTheFirstStepAndTheTrajectoryAfterIt()
    {
        var view = Tiny("tiny-sd1");
        using var encoded = view.Encode(["a red apple on a table"]);
        using var nullCondition = view.NullCondition();
        var noise = InitialNoise.Seeded(view.LatentShape, 1, 5, SeedPolicy.Same);
        var batch = new PromptBatch(encoded.Conditions, nullCondition, [noise.For(0)]);
        double[] G(int end, bool swapped) => new TokenSignificance { End = end, SwappedGuidance = swapped }.Compute(view, batch)[0];
        Assert.Equal(G(1, false), G(1, true));
        var correct = G(3, false);
        var swappedRun = G(3, true);
        Assert.True(correct.Zip(swappedRun).Any(p => Math.Abs(p.First - p.Second) > 1e-6 * Math.Abs(p.First)),
            "three steps of reversed guidance must move the trajectory");
    }

    [Fact]
    public void BadWindowsAreRefused()
    {
        Assert.Throws<DejaException>(() => new TokenSignificance { Start = 1, End = 1 }.Validate());
        Assert.Throws<DejaException>(() => new TokenSignificance { End = 51 }.Validate());
        Assert.Throws<DejaException>(() => new TokenSignificance { Guidance = double.NaN }.Validate());
    }
}
