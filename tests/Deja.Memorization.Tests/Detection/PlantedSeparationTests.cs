using Deja.Memorization.Detection;
using Deja.Memorization.Models;

namespace Deja.Memorization.Tests.Detection;

/// <summary>Planted memorized conditions of the analytic model separate from normal ones, for every detector.</summary>
public class PlantedSeparationTests
{
    /// <summary>P(score_pos > score_neg) + ½·P(equal): the AUC without a ROC.</summary>
    static double MannWhitney(double[] pos, double[] neg) =>
        pos.Sum(p => neg.Sum(n => p > n ? 1.0 : p == n ? 0.5 : 0.0)) / (pos.Length * (double)neg.Length);

    [Theory]
    [InlineData("anisotropy")]
    [InlineData("anisotropy_cosine")]
    [InlineData("magnitude")]
    [InlineData("sharpness")]
    public void MemorizedConditionsScoreHigherThanNormalOnes(string column)
    {
        var model = GaussianMixtureDemo.Create(seed: 21, memorized: 10, partial: 10, normal: 20);
        var detector = column switch
        {
            "magnitude" => (IMemorizationDetector)new MagnitudeDetector(),
            "sharpness" => new SharpnessDetector { Jvp = JvpMethod.Autograd },
            _ => new AnisotropyDetector(),
        };
        var xs = AnalyticOracle.Noise(model, 51, 4);
        var prompts = model.Conditions.Select(c => c.Prompt).ToArray();
        var scores = detector.Score(model, AnalyticOracle.Batch(model, prompts, xs)).Select(s => s[column]).ToArray();
        double[] Of(MemorizationKind kind) => model.Conditions.Select((c, i) => (c, i)).Where(p => p.c.Kind == kind).Select(p => scores[p.i]).ToArray();
        var memorized = Of(MemorizationKind.Memorized);
        var partial = Of(MemorizationKind.PartiallyMemorized);
        var normal = Of(MemorizationKind.Normal);
        Assert.True(MannWhitney(memorized, normal) >= 0.9, $"{column}: AUC memorized vs normal = {MannWhitney(memorized, normal):F3}");
        // At t = 981 every component has nearly the same covariance, so a memorized patch barely bends
        // the Hessian: sharpness is not expected to see partial memorization on this model.
        if (column != "sharpness")
            Assert.True(MannWhitney(partial, normal) >= 0.9, $"{column}: AUC partial vs normal = {MannWhitney(partial, normal):F3}");
    }
}
