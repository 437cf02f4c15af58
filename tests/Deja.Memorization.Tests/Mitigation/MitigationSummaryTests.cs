using Deja.Memorization.Mitigation;

namespace Deja.Memorization.Tests.Mitigation;

/// <summary>The mitigation table's bootstrap intervals (`deja mitigate-summary`, issue 14 §4).</summary>
public class MitigationSummaryTests
{
    static SweepPoint Point(int captions, Func<int, bool> replicated, Func<int, double> minL2, Func<int, double?> fidelity) => new("prompt", null, "folder")
    {
        Captions = [.. Enumerable.Range(0, captions).Select(i => new SweepCaption($"caption {i}", "verbatim", minL2(i), 0.5, replicated(i), false, fidelity(i)))],
        Generations = 4,
        ReplicationL2 = Enumerable.Range(0, captions).Count(replicated) / (double)captions,
        ReplicationSsim = 0,
        MedianNearestL2 = Enumerable.Range(0, captions).Select(minL2).Order().ElementAt(captions / 2),
        Fidelity = Enumerable.Range(0, captions).Average(i => fidelity(i) ?? 0),
        ScoreAfter = 0.5, SecondsPerPrompt = 10,
    };

    [Fact]
    public void IntervalsOfAHalfReplicatedSetAreTheBinomialOnesAndReproducible()
    {
        // 40 captions, 20 replicated: the rate's standard error is √(0.25/40) = 0.079, so the 95 % interval is ≈ 0.5 ± 0.155
        var point = Point(40, i => i % 2 == 0, i => 0.05 + 0.01 * i, i => i < 10 ? 1.0 : 0.5);
        var s = MitigationSummary.Of(point);
        Assert.Equal(0.5, s.ReplicatedL2.Value);
        Assert.InRange(s.ReplicatedL2.Low, 0.30, 0.39);
        Assert.InRange(s.ReplicatedL2.High, 0.61, 0.70);
        Assert.Equal(new IntervalEstimate(0, 0, 0), s.ReplicatedSsim); // nothing replicated by SSIM: no resample can say otherwise
        Assert.Equal(0.625, s.Fidelity!.Value, 12);
        Assert.True(s.Fidelity.Low < 0.625 && 0.625 < s.Fidelity.High);
        Assert.True(s.MedianNearestL2.Low <= s.MedianNearestL2.Value && s.MedianNearestL2.Value <= s.MedianNearestL2.High);
        Assert.Equal(s, MitigationSummary.Of(point)); // seeded: the same intervals every run
        Assert.NotEqual(s.ReplicatedL2, MitigationSummary.Of(point, seed: 1).ReplicatedL2);
        Assert.Equal(1000, s.Resamples);
    }

    [Fact]
    public void OneCaptionGivesAPointIntervalAndMissingFidelityGivesNone()
    {
        var s = MitigationSummary.Of(Point(1, _ => true, _ => 0.07, _ => null), resamples: 50);
        Assert.Equal(new IntervalEstimate(1, 1, 1), s.ReplicatedL2);
        Assert.Equal(new IntervalEstimate(0.07, 0.07, 0.07), s.MedianNearestL2);
        Assert.Null(s.Fidelity);
        Assert.Contains("| 100 % [100, 100] |", s.ToMarkdown());
        Assert.Null(s.ToJson()["fidelity_ci"]);
        Assert.Throws<ArgumentException>(() => MitigationSummary.Of(Point(1, _ => true, _ => 0.07, _ => null), resamples: 0));
    }
}
