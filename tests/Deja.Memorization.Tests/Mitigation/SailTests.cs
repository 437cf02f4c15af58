using Deja.Diffusion.Pipelines;
using Deja.Memorization.Detection;
using Deja.Memorization.Mitigation;
using Deja.Memorization.Models;
using Deja.Tensors;

namespace Deja.Memorization.Tests.Mitigation;

/// <summary>
/// SAIL (METHODS.md §2.2) on the tiny golden pipelines: the per-candidate loss's gradient (through the
/// refreshed direction) matches finite differences; acceptance bookkeeping gives duplicate latents only
/// with the reference code's seed reuse; the fallback fills the slots with the lowest losses when no
/// candidate is ever accepted; the first round starts from the prompt's ordinary x_T.
/// </summary>
public class SailTests
{
    static StableDiffusionView Tiny(string name) => new(StableDiffusionPipeline.Load(TestData.Golden(name)));

    [Theory]
    [InlineData("tiny-sd1")]
    [InlineData("tiny-sd2")]
    public void LossGradientMatchesFiniteDifferences(string pipeline)
    {
        var view = Tiny(pipeline);
        using var encoded = view.Encode(["an astronaut riding a horse"]);
        using var nullCondition = view.NullCondition();
        int b = 2, t = view.Scheduler.Timesteps(50)[0];
        using var conditions = Ops.Concat([nullCondition, nullCondition, encoded.Conditions, encoded.Conditions], 0);
        float sigma = view.Scheduler.Schedule.Sigma(t);
        bool v = view.Scheduler.Prediction != Deja.Diffusion.Schedulers.PredictionType.Epsilon;
        int[] shape = [b, .. view.LatentShape];
        var z0 = Tensor.RandN(new Generator(3), shape).ToArray();
        double Sum(float[] values)
        {
            using var _ = GradMode.NoGrad();
            var z = Tensor.FromArray(values, shape);
            return Ops.Sum(Sail.Loss(view, z, z, conditions, t, sigma, 0.05f, -1f, v)).Item();
        }
        var leaf = Tensor.FromArray((float[])z0.Clone(), shape).RequireGrad();
        float[] g;
        using (GradMode.Set(true)) g = Autograd.Grad(Ops.Sum(Sail.Loss(view, leaf, leaf, conditions, t, sigma, 0.05f, -1f, v)), leaf)!.ToArray();
        const float h = 1e-2f;
        foreach (int i in new[] { 3, z0.Length / 2 + 5, z0.Length - 2 })
        {
            var plus = (float[])z0.Clone(); plus[i] += h;
            var minus = (float[])z0.Clone(); minus[i] -= h;
            double fd = (Sum(plus) - Sum(minus)) / (2 * h);
            Assert.True(Math.Abs(g[i] - fd) <= 0.03 * Math.Abs(fd) + 3e-4, $"{pipeline} coordinate {i}: autograd {g[i]:G6}, finite differences {fd:G6}");
        }
    }

    static (SailResult Result, float[][] Rows) Run(bool faithful, double threshold, int n, int budget = 2, int steps = 1, int rounds = 30)
    {
        var view = Tiny("tiny-sd1");
        using var encoded = view.Encode(["a red apple"]);
        using var nullCondition = view.NullCondition();
        var sail = new Sail { Threshold = threshold, Budget = budget, StepsPerRound = steps, MaxRounds = rounds, FaithfulCode = faithful };
        var result = sail.Find(view, encoded.Conditions, nullCondition, n, 7);
        var all = result.Latents.ToArray();
        int per = all.Length / n;
        return (result, Enumerable.Range(0, n).Select(j => all.AsSpan(j * per, per).ToArray()).ToArray());
    }

    static int Duplicates(float[][] rows) =>
        rows.Select((r, i) => rows.Take(i).Count(o => o.AsSpan().SequenceEqual(r))).Sum();

    [Fact]
    public void OnlyTheReferenceCodesSeedReuseGivesDuplicateLatents()
    {
        // every candidate accepted at its first evaluation: 2 per round, 3 rounds for 6 latents
        var (paper, paperRows) = Run(faithful: false, threshold: 1e9, n: 6);
        Assert.Equal(3, paper.Rounds);
        Assert.False(paper.FellBack);
        Assert.Equal(0, Duplicates(paperRows));

        var (code, codeRows) = Run(faithful: true, threshold: 1e9, n: 6);
        Assert.Equal(3, code.Rounds);
        Assert.True(Duplicates(codeRows) >= 2, "rounds 1 and 2 reuse round 0's seed, so they accept its latents again");
    }

    [Fact]
    public void TheFirstRoundStartsFromThePromptsOrdinaryNoise()
    {
        var view = Tiny("tiny-sd1");
        var (_, rows) = Run(faithful: false, threshold: 1e9, n: 2);
        var ordinary = InitialNoise.Seeded(view.LatentShape, 2, 7, SeedPolicy.Same).For(0).ToArray();
        Assert.Equal(ordinary, rows.SelectMany(r => r).ToArray());
    }

    [Fact]
    public void WithoutAcceptanceTheLowestLossesFillTheSlots()
    {
        var (result, _) = Run(faithful: false, threshold: -1e9, n: 2, budget: 3, steps: 3, rounds: 2);
        Assert.True(result.FellBack);
        Assert.Equal(2, result.Rounds);
        Assert.Equal(6, result.Evaluations);
        Assert.Equal(2, result.Losses.Count);
        Assert.True(result.Losses[0] <= result.Losses[1]);
        Assert.Equal(-1e9 + 0.1 * 0, result.FinalThreshold); // rises only every third round
    }
}
