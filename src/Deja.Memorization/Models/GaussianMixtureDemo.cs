using Deja.Diffusion.Schedulers;
using Deja.Tensors;

namespace Deja.Memorization.Models;

/// <summary>
/// Builds an analytic model with planted memorization (the test oracle and a tiny demo), deterministic
/// for a seed:
/// <list type="bullet">
/// <item>memorized conditions: a near point mass (variance <see cref="PointVariance"/>) at one
/// "training sample" drawn from N(0, I), as a duplicated image the network reproduces;</item>
/// <item>partially memorized conditions: like normal ones, except that every component collapses to
/// one shared pattern inside a square patch (all channels), as a template or logo region;</item>
/// <item>normal conditions: a few broad components (variance 0.75) with means drawn from N(0, 0.5²).</item>
/// </list>
/// </summary>
public static class GaussianMixtureDemo
{
    public const double PointVariance = 1e-4;
    public const double BroadVariance = 0.75;
    public const int NormalComponents = 3;

    public static GaussianMixtureModel Create(int seed = 0, int memorized = 8, int partial = 8, int normal = 24,
        int[]? shape = null, int patch = 4, PredictionType prediction = PredictionType.Epsilon)
    {
        shape ??= [4, 8, 8];
        if (memorized < 0 || partial < 0 || normal < 0 || memorized + partial + normal == 0)
            throw new ArgumentException("analytic demo: condition counts must be non-negative and not all zero");
        if (shape.Length != 3) throw new ArgumentException("analytic demo: shape must be [C, H, W]");
        int c = shape[0], h = shape[1], w = shape[2], d = c * h * w;
        if (partial > 0 && (patch < 1 || patch > Math.Min(h, w))) throw new ArgumentException($"analytic demo: patch {patch} does not fit {h}×{w}");
        var g = new Generator(seed);
        var means = new List<double[]>(); var variances = new List<double[]>();
        var specs = new List<(string Prompt, int[] Components, MemorizationKind Kind, bool[]? Mask)>();
        double[] Normal(double scale) { var v = new double[d]; for (int i = 0; i < d; i++) v[i] = scale * g.NextNormal(); return v; }
        double[] Const(double value) => Enumerable.Repeat(value, d).ToArray();

        for (int i = 0; i < memorized; i++)
        {
            means.Add(Normal(1)); variances.Add(Const(PointVariance));
            specs.Add(($"memorized image {i:00}", [means.Count - 1], MemorizationKind.Memorized, null));
        }
        for (int i = 0; i < partial; i++)
        {
            // A template: every component shares one fixed pattern inside the patch (a near point there)
            // and varies like an ordinary scene elsewhere, so only the patch is memorized.
            int top = g.NextInt(h - patch + 1), left = g.NextInt(w - patch + 1);
            var mask = new bool[d];
            for (int ch = 0; ch < c; ch++)
                for (int y = top; y < top + patch; y++)
                    for (int x = left; x < left + patch; x++) mask[(ch * h + y) * w + x] = true;
            var template = Normal(1);
            var components = new int[NormalComponents];
            for (int k = 0; k < NormalComponents; k++)
            {
                var scene = Normal(0.5);
                var mean = new double[d]; var variance = new double[d];
                for (int j = 0; j < d; j++) (mean[j], variance[j]) = mask[j] ? (template[j], PointVariance) : (scene[j], BroadVariance);
                means.Add(mean); variances.Add(variance); components[k] = means.Count - 1;
            }
            specs.Add(($"template image {i:00}", components, MemorizationKind.PartiallyMemorized, mask));
        }
        for (int i = 0; i < normal; i++)
        {
            var components = new int[NormalComponents];
            for (int k = 0; k < NormalComponents; k++) { means.Add(Normal(0.5)); variances.Add(Const(BroadVariance)); components[k] = means.Count - 1; }
            specs.Add(($"ordinary scene {i:00}", components, MemorizationKind.Normal, null));
        }
        int K = means.Count;
        var conditions = specs.Select(s =>
        {
            var weights = new double[K];
            foreach (var k in s.Components) weights[k] = 1.0 / s.Components.Length;
            return new MixtureCondition(s.Prompt, weights, s.Kind, s.Mask);
        }).ToList();
        return new GaussianMixtureModel(shape, [.. means], [.. variances], conditions, prediction, $"analytic-demo-{seed}");
    }
}
