using Deja.Memorization.Detection;
using Deja.Memorization.Models;

namespace Deja.Memorization.Tests.Detection;

/// <summary>Every detector equals its closed form on the analytic model (METHODS.md §1.1, §2.1, §3.1).</summary>
public class DetectorClosedFormTests
{
    static readonly GaussianMixtureModel Model = GaussianMixtureDemo.Create(seed: 11, memorized: 3, partial: 3, normal: 4);
    static readonly string[] Prompts = ["memorized image 00", "template image 01", "ordinary scene 02", "ordinary scene 03"];

    static void Near(double expected, double actual, double rel, string what) =>
        Assert.True(Math.Abs(expected - actual) <= rel * Math.Abs(expected) + 1e-6, $"{what}: expected {expected:G8}, got {actual:G8}");

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void AnisotropyEqualsClosedForm(bool shared)
    {
        var xs = AnalyticOracle.Noise(Model, 51, 2);
        var scores = new AnisotropyDetector().Score(Model, AnalyticOracle.Batch(Model, Prompts, xs, shared));
        for (int p = 0; p < Prompts.Length; p++)
        {
            var (n, c) = AnalyticOracle.Anisotropy(Model, Prompts[p], xs);
            Near(n, scores[p]["anisotropy_norm"], 1e-4, $"N {Prompts[p]}");
            // At t = 41 the Mahalanobis sums reach ~10⁴, so float32 logits carry ~1e-3 absolute error; where a
            // condition's component also dominates the unconditional mixture, ε_c − ε_u is that small and the
            // pixel's cosine inherits it. 5e-3 is the float32 floor here, not slack in the method.
            Assert.True(Math.Abs(c - scores[p]["anisotropy_cosine"]) < 5e-3, $"C {Prompts[p]}: {c} vs {scores[p]["anisotropy_cosine"]}");
            Assert.True(Math.Abs(n + 2 * c - scores[p]["anisotropy"]) < 1e-2, $"S {Prompts[p]}");
        }
    }

    [Fact]
    public void AnisotropyModesWeightsAndTimestepsFollowTheOptions()
    {
        var xs = AnalyticOracle.Noise(Model, 52, 1);
        var det = new AnisotropyDetector { Mode = AnisotropyMode.CondVsUncond, CosineStepIndex = -1, NormWeight = 0.5, CosineWeight = 3 };
        Assert.Equal((981, 1), det.Timesteps(Model));
        var s = det.Score(Model, AnalyticOracle.Batch(Model, Prompts[..1], xs))[0];
        var w = Model.WeightsOf(Prompts[0]);
        double c = AnalyticOracle.MeanChannelCosine(Model, Model.Epsilon(xs[0], 1, w), Model.Epsilon(xs[0], 1, Model.NullWeights));
        Assert.True(Math.Abs(c - s["anisotropy_cosine"]) < 5e-3, $"C: {c} vs {s["anisotropy_cosine"]}");
        Near(0.5 * s["anisotropy_norm"] + 3 * s["anisotropy_cosine"], s["anisotropy"], 1e-12, "S");
        var bf = new AnisotropyDetector { RoundToBf16 = true }.Score(Model, AnalyticOracle.Batch(Model, Prompts[..1], xs))[0];
        Assert.Equal(bf["anisotropy_norm"], (double)(float)bf["anisotropy_norm"]);
        Assert.Equal(0u, BitConverter.SingleToUInt32Bits((float)bf["anisotropy_norm"]) & 0xFFFFu);
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(0, 6)]
    [InlineData(2, 6)]
    public void MagnitudeEqualsClosedFormAlongTheTrajectory(int start, int end)
    {
        var xs = AnalyticOracle.Noise(Model, 0, 2);
        var scores = new MagnitudeDetector { Start = start, End = end }.Score(Model, AnalyticOracle.Batch(Model, Prompts, xs, shared: true));
        for (int p = 0; p < Prompts.Length; p++)
            Near(AnalyticOracle.Magnitude(Model, Prompts[p], xs, start, end), scores[p]["magnitude"], 1e-3, $"D {Prompts[p]} [{start},{end})");
    }

    [Theory]
    [InlineData(JvpMethod.Autograd, 2e-3)]
    [InlineData(JvpMethod.FiniteDifference, 2e-2)]
    public void SharpnessEqualsClosedForm(JvpMethod jvp, double tolerance)
    {
        var xs = AnalyticOracle.Noise(Model, 42, 2);
        var scores = new SharpnessDetector { Jvp = jvp }.Score(Model, AnalyticOracle.Batch(Model, Prompts, xs));
        for (int p = 0; p < Prompts.Length; p++)
            Near(AnalyticOracle.Sharpness(Model, Prompts[p], xs), scores[p]["sharpness"], tolerance, $"M {Prompts[p]} ({jvp})");
    }

    [Fact]
    public void VModelScoresInEpsilonSpaceEqualTheEpsilonModel()
    {
        var vModel = GaussianMixtureDemo.Create(seed: 11, memorized: 3, partial: 3, normal: 4, prediction: Deja.Diffusion.Schedulers.PredictionType.VPrediction);
        var xs = AnalyticOracle.Noise(Model, 5, 1);
        var e = new AnisotropyDetector { Scaling = ScoreScaling.Epsilon }.Score(Model, AnalyticOracle.Batch(Model, Prompts, xs));
        var v = new AnisotropyDetector { Scaling = ScoreScaling.Epsilon }.Score(vModel, AnalyticOracle.Batch(vModel, Prompts, xs));
        var se = new SharpnessDetector { Jvp = JvpMethod.Autograd }.Score(Model, AnalyticOracle.Batch(Model, Prompts, xs));
        var sv = new SharpnessDetector { Jvp = JvpMethod.Autograd }.Score(vModel, AnalyticOracle.Batch(vModel, Prompts, xs));
        for (int p = 0; p < Prompts.Length; p++)
        {
            Near(e[p]["anisotropy_norm"], v[p]["anisotropy_norm"], 1e-3, "N");
            Assert.True(Math.Abs(e[p]["anisotropy_cosine"] - v[p]["anisotropy_cosine"]) < 5e-3);
            Near(se[p]["sharpness"], sv[p]["sharpness"], 5e-3, "M");
        }
    }

    [Fact]
    public void CallsPerBatchAreAsDocumented()
    {
        var counting = new CountingModel(Model);
        var batch = AnalyticOracle.Batch(Model, Prompts, AnalyticOracle.Noise(Model, 1, 2));
        new AnisotropyDetector().Score(counting, batch);
        Assert.Equal(2, counting.Calls);
        Assert.Equal([2 + 8, 2 + 8], counting.BatchSizes); // shared noise: n unconditional rows + P·n conditional rows
        counting.Reset();
        new SharpnessDetector().Score(counting, batch);
        Assert.Equal(3, counting.Calls);
        counting.Reset();
        new MagnitudeDetector { End = 4 }.Score(counting, batch);
        Assert.Equal(4, counting.Calls);
    }

    sealed class CountingModel(IDiffusionModelView inner) : IDiffusionModelView
    {
        public int Calls { get; private set; }
        public List<int> BatchSizes { get; } = [];
        public void Reset() { Calls = 0; BatchSizes.Clear(); }
        public string Name => inner.Name;
        public string Id => inner.Id;
        public ModelFamily Family => inner.Family;
        public Deja.Diffusion.Schedulers.Ddim Scheduler => inner.Scheduler;
        public int[] LatentShape => inner.LatentShape;
        public EncodedConditions Encode(IReadOnlyList<string> prompts) => inner.Encode(prompts);
        public Deja.Tensors.Tensor NullCondition() => inner.NullCondition();
        public Deja.Tensors.Tensor Forward(Deja.Tensors.Tensor latents, int t, Deja.Tensors.Tensor conditions)
        {
            Calls++; BatchSizes.Add(latents.Shape[0]);
            return inner.Forward(latents, t, conditions);
        }
    }
}
