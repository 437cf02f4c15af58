using Deja.Memorization.Localization;

namespace Deja.Memorization.Tests.Localization;

/// <summary>Pixel AUC and AP as scikit-learn computes them, ties included, and the bootstrap's prompt weights.</summary>
public class PixelRankingTests
{
    static PixelRanking Ranking(params (float Score, bool Positive, int Prompt)[] pixels) =>
        PixelRanking.Build([.. pixels.Select(p => PixelRanking.Key(p.Score, p.Prompt, p.Positive))]);

    [Fact]
    public void ApAndAucOfAHandWorkedExampleWithATie()
    {
        // Scores (label): 0.9 (+), 0.8 (−), 0.7 (+), 0.7 (−), 0.3 (+), 0.1 (−). P = 3.
        // AP, descending distinct scores: 0.9 → R 1/3, P 1; 0.8 → R unchanged; 0.7 (tie, one point) →
        // R 2/3, P 2/4; 0.3 → R 1, P 3/5; 0.1 → R unchanged. AP = ⅓(1 + ½ + ⅗) = 0.7.
        // AUC: 0.9 beats 3 negatives, 0.7 beats 0.1 and ties 0.7 (½), 0.3 beats 0.1: (3 + 1.5 + 1) / 9.
        var r = Ranking((0.9f, true, 0), (0.8f, false, 0), (0.7f, true, 0), (0.7f, false, 0), (0.3f, true, 0), (0.1f, false, 0));
        var (auc, ap) = r.Evaluate([]);
        Assert.Equal(0.7, ap, 12);
        Assert.Equal(5.5 / 9, auc, 12);
    }

    [Fact]
    public void InterpolatingTheTieWouldGiveADifferentAp()
    {
        // Breaking the 0.7 tie positive-first (0.71) changes AP to ⅓(1 + 2/3 + 3/5): the tie is one PR point.
        var tied = Ranking((0.9f, true, 0), (0.8f, false, 0), (0.7f, true, 0), (0.7f, false, 0), (0.3f, true, 0), (0.1f, false, 0)).Evaluate([]);
        var broken = Ranking((0.9f, true, 0), (0.8f, false, 0), (0.71f, true, 0), (0.7f, false, 0), (0.3f, true, 0), (0.1f, false, 0)).Evaluate([]);
        Assert.Equal((1 + 2.0 / 3 + 3.0 / 5) / 3, broken.Ap, 12);
        Assert.NotEqual(tied.Ap, broken.Ap, 6);
    }

    [Fact]
    public void PromptWeightsEqualDuplicatingThePromptsPixels()
    {
        var rng = new Random(11);
        var pixels = Enumerable.Range(0, 60).Select(i => ((float)Math.Round(rng.NextDouble(), 1), rng.NextDouble() < 0.4, i % 3)).ToArray();
        int[] weights = [2, 0, 1];
        var weighted = Ranking(pixels).Evaluate(weights);
        var duplicated = Ranking([.. pixels.SelectMany(p => Enumerable.Repeat(p, weights[p.Item3]))]).Evaluate([]);
        Assert.Equal(duplicated.Auc, weighted.Auc, 12);
        Assert.Equal(duplicated.Ap, weighted.Ap, 12);
        Assert.NotEqual(Ranking(pixels).Evaluate([]).Auc, weighted.Auc, 6);
    }

    [Fact]
    public void AWeightingWithoutAClassIsUndefined()
    {
        var r = Ranking((0.9f, true, 0), (0.1f, false, 1));
        var (auc, ap) = r.Evaluate([1, 0]);
        Assert.True(double.IsNaN(auc));
        Assert.Equal(1.0, ap); // AP needs positives only
        Assert.True(double.IsNaN(r.Evaluate([0, 1]).Ap));
    }
}
