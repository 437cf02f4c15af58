using Deja.Memorization.Mitigation;
using Deja.Tensors;

namespace Deja.Memorization.Tests.Mitigation;

/// <summary>The guard's rows (issue 14 §4): each caption from the mitigated folder exactly when its score is above the threshold.</summary>
public class GuardCompositionTests
{
    static SweepPoint Point(string method, string folder, params (string Caption, double Score, double MinL2, double Fidelity, double Seconds)[] captions) =>
        SweepPoint.FromCaptions(method, null, folder, 4, [.. captions.Select(c =>
            new SweepCaption(c.Caption, "verbatim", c.MinL2, 0.5, c.MinL2 < 0.1, false, c.Fidelity) { Numbers = new(c.Seconds, c.Score, c.Score / 2) })]);

    static readonly SweepPoint Plain = Point("none", "plain", ("a", 3.0, 0.05, 0.9, 1), ("b", 2.0, 0.06, 0.8, 1), ("c", 1.0, 0.2, 0.5, 1));
    static readonly SweepPoint Mitigated = Point("prompt", "prompt", ("c", 1.0, 0.3, 0.4, 3), ("a", 3.0, 0.25, 0.6, 3), ("b", 2.0, 0.26, 0.5, 3));

    [Fact]
    public void CaptionsAboveTheThresholdComeFromTheMitigatedFolder()
    {
        var guarded = GuardComposition.Compose(Plain, Mitigated, 2.0, "score > 2");
        // only "a" is above 2 (the rule is strict: "b" scores exactly 2 and is not flagged)
        Assert.Equal(new GuardSetting(2.0, 1, "score > 2"), guarded.Guard);
        Assert.Equal(["a", "b", "c"], guarded.Captions.Select(c => c.Caption));
        Assert.Equal([0.25, 0.06, 0.2], guarded.Captions.Select(c => c.MinL2));
        Assert.Equal(1 / 3.0, guarded.ReplicationL2, 12);       // b still replicates
        Assert.Equal((0.6 + 0.8 + 0.5) / 3, guarded.Fidelity!.Value, 12);
        Assert.Equal(5 / 3.0, guarded.SecondsPerPrompt, 12);
        Assert.Equal(0.2, guarded.MedianNearestL2, 12);
        Assert.Equal("prompt", guarded.Method);
        Assert.Equal("prompt guarded by score > 2: 1/3 flagged", guarded.Folder);
        Assert.Equal(0, GuardComposition.Compose(Plain, Mitigated, double.PositiveInfinity, "never").Guard!.Flagged);
        var always = GuardComposition.Compose(Plain, Mitigated, double.NegativeInfinity, "always");
        Assert.Equal(Mitigated.ReplicationL2, always.ReplicationL2);
        Assert.Equal(Mitigated.Fidelity, always.Fidelity);
        Assert.Equal(3, (int)always.ToJson()["guard"]!["flagged"]!);
    }

    [Fact]
    public void FoldersThatDoNotPairAreRefused()
    {
        var otherNoise = Point("prompt", "other", ("a", 3.5, 0.25, 0.6, 3), ("b", 2.0, 0.26, 0.5, 3), ("c", 1.0, 0.3, 0.4, 3));
        Assert.Contains("not the same noise", Assert.Throws<DejaException>(() => GuardComposition.Compose(Plain, otherNoise, 2, "t")).Message);
        var fewer = Point("prompt", "fewer", ("a", 3.0, 0.25, 0.6, 3), ("b", 2.0, 0.26, 0.5, 3));
        Assert.Contains("hold different captions", Assert.Throws<DejaException>(() => GuardComposition.Compose(Plain, fewer, 2, "t")).Message);
        Assert.Contains("must be a --method none folder", Assert.Throws<DejaException>(() => GuardComposition.Compose(Mitigated, Plain, 2, "t")).Message);
        var unscored = SweepPoint.FromCaptions("none", null, "unscored", 4, [new SweepCaption("a", "verbatim", 0.05, 0.5, true, false, 0.9),
            new SweepCaption("b", "verbatim", 0.05, 0.5, true, false, 0.9), new SweepCaption("c", "verbatim", 0.05, 0.5, true, false, 0.9)]);
        Assert.Contains("records no score_before", Assert.Throws<DejaException>(() => GuardComposition.Compose(unscored, Mitigated, 2, "t")).Message);
        Assert.Throws<DejaException>(() => GuardComposition.Compose(Plain, Mitigated, double.NaN, "t"));
    }
}
