using Deja.Memorization.Evaluation;
using Deja.Tensors.Kernels;

namespace Deja.Memorization.Tests.Evaluation;

public class DetectionEvaluatorTests
{
    static (bool[] Labels, double[] Scores) Sample(int seed, int positives, int negatives, double shift)
    {
        var rng = new Random(seed);
        var labels = new bool[positives + negatives];
        var scores = new double[labels.Length];
        for (int i = 0; i < labels.Length; i++)
        {
            labels[i] = i < positives;
            double u1 = 1 - rng.NextDouble(), u2 = rng.NextDouble();
            double normal = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
            scores[i] = Math.Round((normal + (labels[i] ? shift : 0)) * 20) / 20; // some ties
        }
        return (labels, scores);
    }

    [Fact]
    public void PointEstimateMatchesTheMetrics()
    {
        bool[] y = [true, true, false, true, false, false];
        double[] s = [0.9, 0.8, 0.7, 0.6, 0.55, 0.4];
        var e = DetectionEvaluator.Evaluate(y, s, new EvaluationOptions { BootstrapResamples = 0 });
        Assert.Equal(8.0 / 9, e.Point.Auc, 12);
        Assert.Equal(0, e.Point.TprAt1Closest);
        Assert.Equal(0, e.Point.TprAt3Closest);
        Assert.Equal(2.0 / 3, e.Point.TprAt1LastBelow, 12);
        Assert.Equal(5.0 / 6, e.Point.BalancedAccuracy, 12);
        Assert.Null(e.Low);
        Assert.False(e.Flipped);
        Assert.Equal((3, 3), (e.Positives, e.Negatives));
    }

    [Fact]
    public void FlipOnlyWhenAskedAndOnlyBelowHalf()
    {
        // Inverted scores: memorized prompts score LOW.
        bool[] y = [true, true, false, true, false, false];
        double[] s = [0.1, 0.2, 0.3, 0.4, 0.45, 0.6];
        var plain = DetectionEvaluator.Evaluate(y, s, new EvaluationOptions { BootstrapResamples = 0 });
        Assert.False(plain.Flipped);
        Assert.Equal(1.0 / 9, plain.Point.Auc, 12);

        var flipped = DetectionEvaluator.Evaluate(y, s, new EvaluationOptions { BootstrapResamples = 0, FlipIfBelowHalf = true });
        Assert.True(flipped.Flipped);
        Assert.Equal(8.0 / 9, flipped.Point.Auc, 12);
        // With labels flipped, the top scores 0.6, 0.45 are now "positives": the TPR at fpr 0 is 2/3.
        Assert.Equal(2.0 / 3, flipped.Point.TprAt1LastBelow, 12);
        Assert.Equal(DetectionMetrics.Auc(flipped.Roc), flipped.Point.Auc, 12);

        // Above 0.5 the flip option changes nothing.
        var high = DetectionEvaluator.Evaluate(y, [.. s.Select(v => -v)], new EvaluationOptions { BootstrapResamples = 0, FlipIfBelowHalf = true });
        Assert.False(high.Flipped);
        Assert.Equal(8.0 / 9, high.Point.Auc, 12);
    }

    [Fact]
    public void BootstrapIsDeterministicAndIndependentOfThreads()
    {
        var (y, s) = Sample(5, 60, 140, 1.2);
        var options = new EvaluationOptions { BootstrapResamples = 300, Seed = 7 };
        int saved = Threading.Threads;
        DetectionEvaluation one, two;
        try
        {
            Threading.Threads = 1;
            one = DetectionEvaluator.Evaluate(y, s, options);
            Threading.Threads = 2;
            two = DetectionEvaluator.Evaluate(y, s, options);
        }
        finally { Threading.Threads = saved; }
        Assert.Equal(one.Low, two.Low);
        Assert.Equal(one.High, two.High);

        var other = DetectionEvaluator.Evaluate(y, s, options with { Seed = 8 });
        Assert.NotEqual(one.Low, other.Low);
    }

    [Fact]
    public void IntervalsContainThePointEstimate()
    {
        var (y, s) = Sample(11, 150, 150, 1.5);
        var e = DetectionEvaluator.Evaluate(y, s, new EvaluationOptions { BootstrapResamples = 400, Seed = 3 });
        var point = e.Point.ToArray();
        var low = e.Low!.Value.ToArray();
        var high = e.High!.Value.ToArray();
        for (int m = 0; m < point.Length; m++)
        {
            Assert.True(low[m] <= point[m] && point[m] <= high[m], $"{MetricSet.Names[m]}: {point[m]} not in [{low[m]}, {high[m]}]");
            Assert.True(low[m] >= 0 && high[m] <= 1);
        }
        // With 300 samples the AUC interval is a few hundredths wide, not degenerate.
        Assert.InRange(high[0] - low[0], 0.01, 0.2);
    }

    [Fact]
    public void BootstrapUsesTheFullDataFlipDecision()
    {
        var (y, s) = Sample(2, 80, 80, -1.0);
        var e = DetectionEvaluator.Evaluate(y, s, new EvaluationOptions { BootstrapResamples = 200, FlipIfBelowHalf = true });
        Assert.True(e.Flipped);
        Assert.True(e.Point.Auc > 0.5);
        Assert.True(e.Low!.Value.Auc <= e.Point.Auc && e.Point.Auc <= e.High!.Value.Auc);
    }
}
