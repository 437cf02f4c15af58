using Deja.Diffusion.Schedulers;
using Deja.Memorization.Models;
using Deja.Tensors;

namespace Deja.Memorization.Tests.Models;

public class GaussianMixtureModelTests
{
    internal static double[] RandomPoint(int seed, int d)
    {
        var g = new Generator(seed);
        return Enumerable.Range(0, d).Select(_ => g.NextNormal()).ToArray();
    }

    static double MaxAbs(double[] a) => a.Max(Math.Abs);

    [Theory]
    [InlineData(981)]
    [InlineData(41)]
    [InlineData(1)]
    public void FloatForwardMatchesClosedForm(int t)
    {
        var model = GaussianMixtureDemo.Create(seed: 3);
        var prompts = new[] { "memorized image 01", "template image 02", "ordinary scene 03" };
        using var enc = model.Encode(prompts);
        var x = RandomPoint(7, model.Dimension);
        using var latents = Tensor.FromArray(Enumerable.Repeat(x, 3).SelectMany(v => v).Select(v => (float)v).ToArray(), [3, .. model.LatentShape]);
        var eps = model.Forward(latents, t, enc.Conditions).ToArray();
        for (int p = 0; p < 3; p++)
        {
            var exact = model.Epsilon(x, t, model.WeightsOf(prompts[p]));
            double scale = MaxAbs(exact);
            for (int i = 0; i < exact.Length; i++)
                Assert.True(Math.Abs(exact[i] - eps[p * model.Dimension + i]) <= 2e-4 * scale + 1e-5, $"t={t} prompt {p} [{i}]: {exact[i]} vs {eps[p * model.Dimension + i]}");
        }
    }

    [Fact]
    public void NullConditionIsTheUniformMixtureOfConditions()
    {
        var model = GaussianMixtureDemo.Create(seed: 1, memorized: 2, partial: 1, normal: 3);
        var w = model.NullWeights;
        Assert.Equal(1.0, w.Sum(), 12);
        var sum = new double[w.Length];
        foreach (var c in model.Conditions) for (int k = 0; k < w.Length; k++) sum[k] += c.Weights[k] / model.Conditions.Count;
        Assert.Equal(sum, w);
    }

    [Fact]
    public void ScoreJvpMatchesFiniteDifferencesOfTheExactScore()
    {
        var model = GaussianMixtureDemo.Create(seed: 2, memorized: 2, partial: 2, normal: 2);
        var x = RandomPoint(11, model.Dimension);
        var v = RandomPoint(12, model.Dimension);
        foreach (int t in new[] { 981, 41 })
            foreach (var c in model.Conditions.Select(c => c.Weights).Append(model.NullWeights))
            {
                var hv = model.ScoreJvp(x, t, c, v);
                const double h = 1e-5;
                var plus = model.Score(x.Zip(v, (a, b) => a + h * b).ToArray(), t, c);
                var minus = model.Score(x.Zip(v, (a, b) => a - h * b).ToArray(), t, c);
                var fd = plus.Zip(minus, (a, b) => (a - b) / (2 * h)).ToArray();
                double scale = MaxAbs(hv);
                for (int i = 0; i < hv.Length; i++) Assert.True(Math.Abs(hv[i] - fd[i]) <= 1e-5 * scale + 1e-8, $"t={t} [{i}]: {hv[i]} vs {fd[i]}");
            }
    }

    [Fact]
    public void HessianDiagonalMatchesJvpOnBasisVectors()
    {
        var model = GaussianMixtureDemo.Create(seed: 4, memorized: 1, partial: 1, normal: 2);
        var x = RandomPoint(5, model.Dimension);
        var w = model.NullWeights;
        var diag = model.ScoreHessianDiagonal(x, 41, w);
        foreach (int i in new[] { 0, 17, 100, model.Dimension - 1 })
        {
            var e = new double[model.Dimension]; e[i] = 1;
            Assert.Equal(model.ScoreJvp(x, 41, w, e)[i], diag[i], 9);
        }
    }

    [Fact]
    public void VPredictionOutputConvertsBackToTheSameEpsilon()
    {
        var eModel = GaussianMixtureDemo.Create(seed: 5);
        var vModel = GaussianMixtureDemo.Create(seed: 5, prediction: PredictionType.VPrediction);
        Assert.NotEqual(eModel.Id, vModel.Id);
        using var enc = vModel.Encode(["memorized image 00"]);
        using var x = Tensor.FromArray(RandomPoint(9, vModel.Dimension).Select(v => (float)v).ToArray(), [1, .. vModel.LatentShape]);
        var eps = eModel.Forward(x, 41, enc.Conditions).ToArray();
        var fromV = vModel.Scheduler.Epsilon(vModel.Forward(x, 41, enc.Conditions), x, 41).ToArray();
        for (int i = 0; i < eps.Length; i++) Assert.True(Math.Abs(eps[i] - fromV[i]) <= 1e-4 * (1 + Math.Abs(eps[i])), $"[{i}] {eps[i]} vs {fromV[i]}");
    }

    [Fact]
    public void DemoIsDeterministicAndLabelled()
    {
        var a = GaussianMixtureDemo.Create(seed: 6);
        var b = GaussianMixtureDemo.Create(seed: 6);
        Assert.Equal(a.Id, b.Id);
        Assert.NotEqual(a.Id, GaussianMixtureDemo.Create(seed: 7).Id);
        Assert.Equal(8, a.Conditions.Count(c => c.Kind == MemorizationKind.Memorized));
        Assert.Equal(8, a.Conditions.Count(c => c.Kind == MemorizationKind.PartiallyMemorized));
        Assert.All(a.Conditions.Where(c => c.Kind == MemorizationKind.PartiallyMemorized), c => Assert.Equal(4 * 4 * 4, c.CollapsedMask!.Count(m => m)));
    }

    [Fact]
    public void BadInputIsRefusedWithAMessage()
    {
        var model = GaussianMixtureDemo.Create(seed: 1, memorized: 1, partial: 0, normal: 1);
        var e = Assert.Throws<ArgumentException>(() => model.Encode(["no such prompt"]));
        Assert.Contains("no such prompt", e.Message);
        using var enc = model.Encode(["memorized image 00"]);
        using var wrong = Tensor.Zeros(1, 4, 4, 4);
        Assert.Contains("latents must be", Assert.Throws<ArgumentException>(() => model.Forward(wrong, 981, enc.Conditions)).Message);
    }
}
