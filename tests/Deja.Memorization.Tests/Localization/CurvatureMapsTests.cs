using Deja.Diffusion.Pipelines;
using Deja.Memorization.Detection;
using Deja.Memorization.Localization;
using Deja.Memorization.Models;
using Deja.Tensors;

namespace Deja.Memorization.Tests.Localization;

/// <summary>
/// Kim &amp; Lee's maps (METHODS.md §4.2–§4.4) on the tiny golden pipelines, against central finite
/// differences of the model itself: the exact diagonal, one Hutchinson probe's v ⊙ Jᵀv, the score
/// maps' closed form, and the map algebra (cov = max(0, Σ_ch(D_c − D_u)), raw = max(0, Σ_ch D_c)).
/// </summary>
public class CurvatureMapsTests
{
    static StableDiffusionView Tiny(string name) => new(StableDiffusionPipeline.Load(TestData.Golden(name)));

    const string Prompt = "a photograph of an astronaut riding a horse";

    /// <summary>ε̂(z, t, cond) as a flat array (one row).</summary>
    static float[] Eps(IDiffusionModelView view, float[] z, int[] shape, int t, Tensor cond)
    {
        using var _ = GradMode.NoGrad();
        using var x = Tensor.FromArray(z, shape);
        using var raw = view.Forward(x, t, cond);
        using var eps = view.Scheduler.Epsilon(raw, x, t);
        return eps.ToArray();
    }

    static (Tensor Z, int T) Point(StableDiffusionView view, CurvatureMaps method, Tensor cond, Tensor nul, long seed)
    {
        using var xT = LocalizeBenchmark.Noise([seed], view.LatentShape);
        var (z, t, final) = method.Trajectory(view, xT, cond, nul);
        final.Dispose();
        return (z, t);
    }

    [Theory]
    [InlineData("tiny-sd1")]
    [InlineData("tiny-sd2")]
    public void ExactDiagonalMatchesFiniteDifferences(string pipeline)
    {
        var view = Tiny(pipeline);
        var method = new CurvatureMaps { Steps = 4, Probes = null };
        using var encoded = view.Encode([Prompt]);
        using var nul = view.NullCondition();
        var (z, t) = Point(view, method, encoded.Conditions, nul, 3);
        using var _z = z;
        var maps = method.Compute(view, null, z, t, encoded.Conditions, nul, [3], [MapNames.Cov, MapNames.RawCurvature]);

        // not vacuous: the clamp max(0, ·) leaves some of each map positive
        Assert.Contains(maps[MapNames.Cov][0], v => v > 0);
        Assert.Contains(maps[MapNames.RawCurvature][0], v => v > 0);
        var zs = z.ToArray();
        int ch = z.Shape[1], plane = z.Shape[2] * z.Shape[3];
        const float h = 1e-2f;
        // diag of ∂ε_c/∂z and ∂ε_u/∂z at every coordinate of a few pixels, by central differences
        foreach (int p in new[] { 0, plane / 2 + 3, plane - 1 })
        {
            double sumC = 0, sumU = 0;
            for (int c = 0; c < ch; c++)
            {
                int i = c * plane + p;
                var plus = (float[])zs.Clone(); plus[i] += h;
                var minus = (float[])zs.Clone(); minus[i] -= h;
                sumC += (Eps(view, plus, z.Shape, t, encoded.Conditions)[i] - Eps(view, minus, z.Shape, t, encoded.Conditions)[i]) / (2 * h);
                sumU += (Eps(view, plus, z.Shape, t, nul)[i] - Eps(view, minus, z.Shape, t, nul)[i]) / (2 * h);
            }
            double cov = Math.Max(0, sumC - sumU), raw = Math.Max(0, sumC);
            Assert.True(Math.Abs(maps[MapNames.Cov][0][p] - cov) <= 0.02 * Math.Abs(sumC - sumU) + 2e-3, $"{pipeline} pixel {p}: cov {maps[MapNames.Cov][0][p]:G6}, finite differences {cov:G6}");
            Assert.True(Math.Abs(maps[MapNames.RawCurvature][0][p] - raw) <= 0.02 * Math.Abs(sumC) + 2e-3, $"{pipeline} pixel {p}: raw {maps[MapNames.RawCurvature][0][p]:G6}, finite differences {raw:G6}");
        }
    }

    [Fact]
    public void OneHutchinsonProbeIsVTimesJTransposeV()
    {
        var view = Tiny("tiny-sd1");
        var method = new CurvatureMaps { Steps = 3, Probes = 1, ProbeSeed = 5 };
        using var encoded = view.Encode([Prompt]);
        using var nul = view.NullCondition();
        var (z, t) = Point(view, method, encoded.Conditions, nul, 8);
        using var _z = z;
        var maps = method.Compute(view, null, z, t, encoded.Conditions, nul, [8], [MapNames.RawCurvature]);

        // the probe the method draws: generator seeded probe_seed + 10000·generation seed
        var v = new float[z.Length];
        new Generator(5 + 10000 * 8L).FillRademacher(v);
        var zs = z.ToArray();
        int ch = z.Shape[1], plane = z.Shape[2] * z.Shape[3];
        double Dot(float[] a) { double s = 0; for (int j = 0; j < a.Length; j++) s += (double)v[j] * a[j]; return s; }
        const float h = 1e-2f;
        foreach (int p in new[] { 1, plane - 2 })
        {
            double sum = 0; // Σ_ch v_i · ∂⟨v, ε_c⟩/∂z_i
            for (int c = 0; c < ch; c++)
            {
                int i = c * plane + p;
                var plus = (float[])zs.Clone(); plus[i] += h;
                var minus = (float[])zs.Clone(); minus[i] -= h;
                sum += v[i] * (Dot(Eps(view, plus, z.Shape, t, encoded.Conditions)) - Dot(Eps(view, minus, z.Shape, t, encoded.Conditions))) / (2 * h);
            }
            double expected = Math.Max(0, sum);
            Assert.True(Math.Abs(maps[MapNames.RawCurvature][0][p] - expected) <= 0.03 * Math.Abs(sum) + 5e-3,
                $"pixel {p}: Hutchinson {maps[MapNames.RawCurvature][0][p]:G6}, finite differences {expected:G6}");
        }
    }

    [Fact]
    public void ScoreMapsAreSquaredScoreDifferencesSummedOverChannels()
    {
        var view = Tiny("tiny-sd1");
        var bad = Tiny("tiny-sd1"); // same weights: score_diff_bad is exactly 0, cov_bad too
        var method = new CurvatureMaps { Steps = 3, Probes = 2 };
        using var encoded = view.Encode([Prompt]);
        using var nul = view.NullCondition();
        var (z, t) = Point(view, method, encoded.Conditions, nul, 1);
        using var _z = z;
        var maps = method.Compute(view, bad, z, t, encoded.Conditions, nul, [1], [MapNames.ScoreDiff, MapNames.ScoreDiffBad, MapNames.CovBad]);
        var c = Eps(view, z.ToArray(), z.Shape, t, encoded.Conditions);
        var u = Eps(view, z.ToArray(), z.Shape, t, nul);
        float sigma = view.Scheduler.Schedule.Sigma(t);
        int ch = z.Shape[1], plane = z.Shape[2] * z.Shape[3];
        for (int p = 0; p < plane; p++)
        {
            double s = 0;
            for (int k = 0; k < ch; k++) { double d = (u[k * plane + p] - c[k * plane + p]) / sigma; s += d * d; }
            Assert.Equal(s, maps[MapNames.ScoreDiff][0][p], 1e-3 * s + 1e-6);
        }
        Assert.All(maps[MapNames.ScoreDiffBad][0], v => Assert.Equal(0f, v));
        Assert.All(maps[MapNames.CovBad][0], v => Assert.Equal(0f, v));
    }

    [Fact]
    public void ConsistentSigmaDividesTheCurvatureMapsBySigma()
    {
        var view = Tiny("tiny-sd1");
        using var encoded = view.Encode([Prompt]);
        using var nul = view.NullCondition();
        var plain = new CurvatureMaps { Steps = 3, Probes = 2 };
        var (z, t) = Point(view, plain, encoded.Conditions, nul, 2);
        using var _z = z;
        var a = plain.Compute(view, null, z, t, encoded.Conditions, nul, [2], [MapNames.Cov])[MapNames.Cov][0];
        var b = new CurvatureMaps { Steps = 3, Probes = 2, ConsistentSigma = true }.Compute(view, null, z, t, encoded.Conditions, nul, [2], [MapNames.Cov])[MapNames.Cov][0];
        float sigma = view.Scheduler.Schedule.Sigma(t);
        Assert.Contains(a, v => v > 0);
        for (int i = 0; i < a.Length; i++) Assert.Equal(a[i] / sigma, b[i], 1e-4 * Math.Abs(b[i]) + 1e-6);
    }

    [Fact]
    public void ExactIsRefusedOnLargeLatentsBeforeAnyWork()
    {
        var view = new StableDiffusionView(StableDiffusionPipeline.Load(TestData.Golden("tiny-sd1")), imageSize: 512);
        var e = Assert.Throws<DejaException>(() => new CurvatureMaps { Probes = null }.Validate(view));
        Assert.Contains("4096", e.Message);
    }

    [Fact]
    public void GenerationsOfOneBatchAreMappedIndependently()
    {
        var view = Tiny("tiny-sd1");
        var method = new CurvatureMaps { Steps = 3, Probes = 2 };
        using var encoded = view.Encode([Prompt]);
        using var nul = view.NullCondition();
        using var both = LocalizeBenchmark.Noise([4, 9], view.LatentShape);
        var (z, t, f) = method.Trajectory(view, both, encoded.Conditions, nul);
        using var _z = z; f.Dispose();
        var together = method.Compute(view, null, z, t, encoded.Conditions, nul, [4, 9], [MapNames.Cov, MapNames.ScoreDiff]);
        var (z1, t1) = Point(view, method, encoded.Conditions, nul, 9);
        using var _z1 = z1;
        var alone = method.Compute(view, null, z1, t1, encoded.Conditions, nul, [9], [MapNames.Cov, MapNames.ScoreDiff]);
        foreach (var map in new[] { MapNames.Cov, MapNames.ScoreDiff })
            for (int p = 0; p < alone[map][0].Length; p++)
                Assert.Equal(alone[map][0][p], together[map][1][p], 1e-4 * Math.Abs(alone[map][0][p]) + 1e-5);
    }
}
