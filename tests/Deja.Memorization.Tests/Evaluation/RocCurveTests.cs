using Deja.Memorization.Evaluation;

namespace Deja.Memorization.Tests.Evaluation;

public class RocCurveTests
{
    // METHODS.md §0.7.2, derived by hand.
    static readonly int[] VectorLabels = [1, 1, 0, 1, 0, 0];
    static readonly double[] VectorScores = [0.9, 0.8, 0.7, 0.6, 0.55, 0.4];

    static void Equal(double[] expected, double[] actual, double tol = 1e-12)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol, $"index {i}: expected {expected[i]}, got {actual[i]} (all: {string.Join(", ", actual)})");
    }

    [Fact]
    public void MethodsTestVector()
    {
        var roc = RocCurve.Compute(VectorLabels, VectorScores);
        Equal([0, 0, 0, 1.0 / 3, 1.0 / 3, 1], roc.Fpr);
        Equal([0, 1.0 / 3, 2.0 / 3, 2.0 / 3, 1, 1], roc.Tpr);
        // sklearn 1.6: thresholds [inf, 0.9, 0.8, 0.7, 0.6, 0.4] (0.55 is dropped as collinear).
        Assert.Equal([double.PositiveInfinity, 0.9, 0.8, 0.7, 0.6, 0.4], roc.Thresholds);
        Assert.Equal(8.0 / 9, DetectionMetrics.Auc(roc), 12);
        Assert.Equal(2.0 / 3, DetectionMetrics.TprAtFprLastBelow(roc, 0.01), 12);
        Assert.Equal(0.0, DetectionMetrics.TprAtFprClosest(roc, 0.01));
        Assert.Equal(0.0, DetectionMetrics.TprAtFprClosest(roc, 0.03));
        Assert.Equal(5.0 / 6, DetectionMetrics.BestBalancedAccuracy(roc), 12);
    }

    [Fact]
    public void AllEqualScoresGiveTheDiagonal()
    {
        var roc = RocCurve.Compute([1, 0, 1, 0, 0], [0.5, 0.5, 0.5, 0.5, 0.5]);
        Equal([0, 1], roc.Fpr);
        Equal([0, 1], roc.Tpr);
        Assert.Equal([double.PositiveInfinity, 0.5], roc.Thresholds);
        Assert.Equal(0.5, DetectionMetrics.Auc(roc));
    }

    [Fact]
    public void TiesAndUnsortedInputMatchSklearn()
    {
        // Hand-traced through sklearn 1.6's _binary_clf_curve: distinct values descending with their
        // (positives, negatives): 3 (1,1), 2 (2,0), 1 (0,2), 0.5 (0,1).
        int[] y = [0, 1, 1, 0, 1, 0, 0];
        double[] s = [1, 3, 2, 3, 2, 0.5, 1];
        // → tps 1,3,3,3 and fps 1,1,3,4
        // second differences: j=1 fps 3-2+1=2 keep; j=2 fps 4-6+1=-1 keep → all kept.
        var roc = RocCurve.Compute(y, s);
        Equal([0, 0.25, 0.25, 0.75, 1], roc.Fpr);
        Equal([0, 1.0 / 3, 1, 1, 1], roc.Tpr);
        Assert.Equal([double.PositiveInfinity, 3, 2, 1, 0.5], roc.Thresholds);
    }

    [Fact]
    public void MatchesAnSklearnRunWithTies()
    {
        // Output of scikit-learn 1.2.1 roc_curve/roc_auc_score on this input (thresholds[0] is max+1 there,
        // +inf since 1.3). 300 random cases like it matched bit for bit when this code was written.
        int[] y = [0, 1, 0, 1, 1, 0, 0, 0, 1, 1, 0, 1, 0, 1, 1];
        double[] s = [0.5, -0.9100394073504693, 0.5, 0.5899605926495307, 1.0899605926495308, -0.5, 0.5, -1.0, 1.5899605926495308,
                      -0.9100394073504693, -1.0, 0.5899605926495307, 1.5, 1.0899605926495308, 0.5899605926495307];
        var roc = RocCurve.Compute(y, s);
        Assert.Equal([0.0, 0.0, 0.14285714285714285, 0.14285714285714285, 0.14285714285714285, 0.5714285714285714, 0.7142857142857143, 0.7142857142857143, 1.0], roc.Fpr);
        Assert.Equal([0.0, 0.125, 0.125, 0.375, 0.75, 0.75, 0.75, 1.0, 1.0], roc.Tpr);
        Assert.Equal([double.PositiveInfinity, 1.5899605926495308, 1.5, 1.0899605926495308, 0.5899605926495307, 0.5, -0.5, -0.9100394073504693, -1.0], roc.Thresholds);
        Assert.Equal(0.7321428571428572, DetectionMetrics.Auc(roc), 15);
    }

    [Fact]
    public void CollinearRunsAreDropped()
    {
        // A perfect separation with distinct scores: the curve is (0,0) → (0,1) → (1,1), corners only.
        int[] y = [1, 1, 1, 0, 0, 0];
        double[] s = [6, 5, 4, 3, 2, 1];
        var roc = RocCurve.Compute(y, s);
        Equal([0, 0, 0, 1], roc.Fpr);
        Equal([0, 1.0 / 3, 1, 1], roc.Tpr);
        Assert.Equal([double.PositiveInfinity, 6, 4, 1], roc.Thresholds);
        Assert.Equal(1.0, DetectionMetrics.Auc(roc));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void AucEqualsMannWhitneyWithTies(int seed)
    {
        var rng = new Random(seed);
        int n = 200;
        var y = new bool[n];
        var s = new double[n];
        for (int i = 0; i < n; i++)
        {
            y[i] = rng.NextDouble() < 0.4;
            // Coarse values force many ties within and across classes.
            s[i] = Math.Round(rng.NextDouble() * 10 + (y[i] ? 1.5 : 0)) / 2;
        }
        var roc = RocCurve.Compute(y, s);
        double wins = 0; long pairs = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                if (y[i] && !y[j])
                {
                    pairs++;
                    wins += s[i] > s[j] ? 1 : s[i] == s[j] ? 0.5 : 0;
                }
        Assert.Equal(wins / pairs, DetectionMetrics.Auc(roc), 12);
        Assert.Equal(0, roc.Fpr[0]);
        Assert.Equal(1, roc.Fpr[^1]);
        Assert.Equal(1, roc.Tpr[^1]);
        for (int i = 1; i < roc.Fpr.Length; i++)
        {
            Assert.True(roc.Fpr[i] >= roc.Fpr[i - 1] && roc.Tpr[i] >= roc.Tpr[i - 1]);
            Assert.True(roc.Thresholds[i] < roc.Thresholds[i - 1]);
        }
    }

    [Fact]
    public void ClosestAndLastBelowDifferOnVerticalSegments()
    {
        // 2 positives on top, 100 negatives, 1 positive at the bottom. The points at fpr 0.01, 0.02, ...
        // lie on the horizontal segment (0, 2/3) → (1, 2/3) and are dropped, so the curve is
        // (0,0) (0,1/3) (0,2/3) (1,2/3) (1,1). Closest to 0.01 is then the FIRST point at fpr 0, i.e.
        // TPR 0; last-below takes the top of the vertical segment, 2/3.
        var y = new List<int> { 1, 1 };
        var s = new List<double> { 100, 99 };
        for (int i = 0; i < 100; i++) { y.Add(0); s.Add(98 - i); }
        y.Add(1); s.Add(-5);
        var roc = RocCurve.Compute(y.ToArray(), s.ToArray());
        Equal([0, 0, 0, 1, 1], roc.Fpr);
        Assert.Equal(2.0 / 3, DetectionMetrics.TprAtFprLastBelow(roc, 0.01), 12);
        Assert.Equal(2.0 / 3, DetectionMetrics.TprAtFprLastBelow(roc, 0.03), 12);
        Assert.Equal(0.0, DetectionMetrics.TprAtFprClosest(roc, 0.01));
        Assert.Equal(0.0, DetectionMetrics.TprAtFprClosest(roc, 0.03));
    }

    [Fact]
    public void BadInputIsRefusedWithAMessage()
    {
        Assert.Contains("2 labels but 3 scores", Assert.Throws<ArgumentException>(() => RocCurve.Compute([1, 0], [1.0, 2, 3])).Message);
        Assert.Contains("no samples", Assert.Throws<ArgumentException>(() => RocCurve.Compute(Array.Empty<int>(), [])).Message);
        Assert.Contains("no positive", Assert.Throws<ArgumentException>(() => RocCurve.Compute([0, 0], [1.0, 2])).Message);
        Assert.Contains("no negative", Assert.Throws<ArgumentException>(() => RocCurve.Compute([1, 1], [1.0, 2])).Message);
        Assert.Contains("NaN", Assert.Throws<ArgumentException>(() => RocCurve.Compute([1, 0], [double.NaN, 2])).Message);
        Assert.Contains("finite", Assert.Throws<ArgumentException>(() => RocCurve.Compute([1, 0], [double.PositiveInfinity, 2])).Message);
        Assert.Contains("0 or 1", Assert.Throws<ArgumentException>(() => RocCurve.Compute([2, 0], [1.0, 2])).Message);
    }

    [Theory]
    [InlineData(1.00390625f, 1.0f)]        // halfway, even neighbour below
    [InlineData(1.01171875f, 1.015625f)]   // halfway, even neighbour above
    [InlineData(1.0f, 1.0f)]
    [InlineData(-2.5f, -2.5f)]
    [InlineData(1.0039064f, 1.0078125f)]   // one float above halfway rounds up
    [InlineData(3.4e38f, float.PositiveInfinity)]
    public void BFloat16RoundsToNearestEven(float input, float expected)
    {
        Assert.Equal(expected, BFloat16.Round(input));
        Assert.True(float.IsNaN(BFloat16.Round(float.NaN)));
    }

    [Fact]
    public void PercentileIsNumpyLinear()
    {
        double[] v = [1, 2, 3, 4, 10];
        Assert.Equal(1, Percentile.OfSorted(v, 0));
        Assert.Equal(10, Percentile.OfSorted(v, 100));
        Assert.Equal(3, Percentile.OfSorted(v, 50));
        Assert.Equal(1.1, Percentile.OfSorted(v, 2.5), 12);   // numpy: 1.1
        Assert.Equal(9.4, Percentile.OfSorted(v, 97.5), 12);  // numpy: 9.4
    }
}
