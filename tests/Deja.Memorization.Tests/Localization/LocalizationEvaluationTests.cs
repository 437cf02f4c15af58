using Deja.Memorization.Localization;
using Deja.Tensors;

namespace Deja.Memorization.Tests.Localization;

/// <summary>Kim &amp; Lee's protocol and the additions of METHODS.md §4.7.7 on cases whose answers are known in closed form.</summary>
public class LocalizationEvaluationTests
{
    internal sealed class MemoryMaps : IMapSource
    {
        public Dictionary<(int, int, string), (float[], int, int)> Maps { get; } = [];
        public (float[] Values, int Height, int Width) Read(int index, int generation, string map) => Maps[(index, generation, map)];
        public void Add(int index, string map, float[] values, int height, int width) => Maps[(index, 0, map)] = (values, height, width);
    }

    const int Side = 4;

    /// <summary>A 4×4 mask whose first <paramref name="positives"/> pixels (row-major) are the region.</summary>
    static BinaryMask Region(int positives) =>
        new(Side, Side, [.. Enumerable.Range(0, Side * Side).Select(i => i < positives)], $"region{positives}");

    static float[] AsMap(BinaryMask m, bool inverted = false) => [.. m.Pixels.Select(p => p ^ inverted ? 1f : 0f)];

    /// <summary>Template samples (one generation each) with regions of the given sizes, and their maps.</summary>
    static (LocalizationTruth Truth, MemoryMaps Maps) Templates(params int[] regions)
    {
        var maps = new MemoryMaps();
        var samples = new List<LocalizationSample>();
        for (int i = 0; i < regions.Length; i++)
        {
            var mask = Region(regions[i]);
            samples.Add(new LocalizationSample(i, 0, $"prompt {i}", TruthKind.Template, mask));
            maps.Add(i, "perfect", AsMap(mask), Side, Side);
            maps.Add(i, "inverted", AsMap(mask, inverted: true), Side, Side);
        }
        return (new LocalizationTruth(samples, Side, Side, []), maps);
    }

    static LocalizationReport Evaluate(LocalizationTruth truth, IMapSource maps, string[] names, int bootstrap = 0, ulong splitSeed = 0) =>
        LocalizationEvaluation.Evaluate(truth, maps, names, new LocalizationOptions { BootstrapResamples = bootstrap, SplitSeed = splitSeed });

    static MapEvaluation Map(LocalizationReport r, string set, string map) => r.Sets.Single(s => s.Name == set).Maps.Single(m => m.Map == map);

    [Fact]
    public void APerfectMapScoresOneEverywhere()
    {
        var (truth, maps) = Templates(4, 8, 2, 6);
        var r = Evaluate(truth, maps, ["perfect"], bootstrap: 50);
        foreach (var set in new[] { "tv", "all" })
        {
            var m = Map(r, set, "perfect");
            Assert.Equal(1.0, m.Oracle!.Iou.Value);
            Assert.Equal(1.0, m.Oracle.MIou.Value);
            Assert.Equal(1.0, m.Oracle.Accuracy.Value);
            Assert.Equal(1.0, m.PixelAuc!.Value);
            Assert.Equal(1.0, m.PixelAp!.Value);
            Assert.Equal((1.0, 1.0), (m.PixelAuc.Low!.Value, m.PixelAuc.High!.Value));
            Assert.Equal(1.0, m.HeldOut!.Metrics.Iou.Value);
            Assert.Equal((2, 2), (m.HeldOut.PromptsA, m.HeldOut.PromptsB));
        }
    }

    [Fact]
    public void AnInvertedMapHasAucZeroAndTheApOfRandomRanking()
    {
        var (truth, maps) = Templates(4, 8, 2, 6);
        var m = Map(Evaluate(truth, maps, ["inverted"]), "tv", "inverted");
        Assert.Equal(0.0, m.PixelAuc!.Value);
        // Every negative ranks above every positive: one PR point at recall 1 with precision P/(P+N).
        Assert.Equal(20.0 / 64, m.PixelAp!.Value, 12);
        Assert.Null(m.PixelAuc.Low); // --bootstrap 0: no interval
    }

    [Fact]
    public void TheAllOnesBaselineOnTemplatesIsTheRegionsShareOfThePixels()
    {
        var (truth, maps) = Templates(4, 8, 2, 6);
        var b = Map(Evaluate(truth, maps, ["perfect"]), "tv", LocalizationEvaluation.BaselineName);
        Assert.True(b.Baseline);
        // A constant map normalises to 0 everywhere: predicted all at θ₀ = −1e-6, nothing above.
        Assert.Equal(20.0 / 64, b.Oracle!.Iou.Value, 12);
        Assert.Equal(-1e-6, b.Oracle.Iou.Threshold);
        Assert.Equal((4.0 / 16 + 8.0 / 16 + 2.0 / 16 + 6.0 / 16) / 4, b.Oracle.MIou.Value, 12);
        Assert.Equal(44.0 / 64, b.Oracle.Accuracy.Value, 12); // predicting nothing: the negatives' share
        Assert.Equal(0.5, b.PixelAuc!.Value);
        Assert.Equal(20.0 / 64, b.PixelAp!.Value, 12);
    }

    [Fact]
    public void AnEmptyUnionCountsAsAPerfectSampleInMIouButNotInGlobalIou()
    {
        var (truth, maps) = Templates(4);
        // A non-memorized sample whose map is 0 everywhere: above θ ≥ 0 nothing is predicted and nothing is
        // true, so its IoU is 1 (K's convention); under the other convention (0) mIoU would be ½.
        var zeros = BinaryMask.Zeros(Side, Side);
        var samples = truth.Samples.Append(new LocalizationSample(1, 0, "held out", TruthKind.Zeros, zeros)).ToList();
        maps.Add(1, "perfect", new float[Side * Side], Side, Side);
        var all = Map(Evaluate(new LocalizationTruth(samples, Side, Side, []), maps, ["perfect"]), "all", "perfect");
        Assert.Equal(1.0, all.Oracle!.MIou.Value);
        Assert.Equal(1.0, all.Oracle.Iou.Value);

        // The same sample with a map that lights everything up: at the θ that keeps the template perfect
        // the held-out sample's union is its 16 pixels and its IoU 0, so mIoU = ½ and global IoU = 4/20.
        maps.Add(1, "perfect", Enumerable.Repeat(1f, Side * Side).ToArray(), Side, Side);
        all = Map(Evaluate(new LocalizationTruth(samples, Side, Side, []), maps, ["perfect"]), "all", "perfect");
        Assert.Equal(0.5, all.Oracle!.MIou.Value);
        Assert.Equal(4.0 / 20, all.Oracle.Iou.Value, 12);
    }

    [Fact]
    public void MapsOfOtherResolutionsAreResizedToTheMasks()
    {
        // A 2×2 map with the top-left quadrant hot, against the top-left 2×2 region of a 4×4 mask (mask 0, 1,
        // 4, 5). Upsampled, the hot quadrant bleeds into the row and column next to it, but the four region
        // pixels stay the highest (value ≥ 9/16 vs ≤ 1/4), so a threshold separates them exactly.
        var mask = new BinaryMask(Side, Side, [.. Enumerable.Range(0, 16).Select(i => i is 0 or 1 or 4 or 5)], "quadrant");
        var maps = new MemoryMaps();
        maps.Add(0, "coarse", [1f, 0f, 0f, 0f], 2, 2);
        var truth = new LocalizationTruth([new LocalizationSample(0, 0, "p", TruthKind.Template, mask)], Side, Side, []);
        var m = Map(Evaluate(truth, maps, ["coarse"]), "tv", "coarse");
        Assert.Equal(1.0, m.Oracle!.Iou.Value);
        Assert.Equal(1.0, m.PixelAuc!.Value);
    }

    [Fact]
    public void MapsWithNaNInfinityOrValuesAtMinusOneAreSkippedAndCounted()
    {
        var (truth, maps) = Templates(4, 8, 2, 6);
        maps.Maps[(1, 0, "perfect")] = ([.. AsMap(Region(8)).Select((v, i) => i == 3 ? float.NaN : v)], Side, Side);
        maps.Maps[(2, 0, "perfect")] = ([.. AsMap(Region(2)).Select((v, i) => i == 0 ? -1f : v)], Side, Side);
        var r = Evaluate(truth, maps, ["perfect"]);
        var m = Map(r, "tv", "perfect");
        Assert.Equal(2, m.SkippedNonFinite);
        Assert.Equal(2, m.Samples);
        Assert.Contains(m.Notes, n => n.Contains("2 sample(s) skipped"));
        Assert.Equal(1.0, m.Oracle!.Iou.Value); // the two usable samples
        var baseline = Map(r, "tv", LocalizationEvaluation.BaselineName);
        Assert.Equal(4, baseline.Samples); // the baseline has no NaN: it keeps every sample
        Assert.Equal(20.0 / 64, baseline.Oracle!.Iou.Value, 12);
    }

    [Fact]
    public void TheHeldOutThresholdIsChosenOnOneHalfAndScoredOnTheOther()
    {
        // Two prompts, so half A and half B hold one each. Prompt 0's region is at n = 1 and its background at
        // 0.205, so every θ in [0.205, 1) is perfect for it; prompt 1's region is at 0.755 and its background
        // at 0.505, so only θ in [0.505, 0.755) is. The oracle finds a θ perfect for both; a θ chosen on
        // prompt 0 alone (the first maximum, θ₂₁ ≈ 0.21) predicts all of prompt 1, and the held-out score shows it.
        var mask0 = Region(4);
        var mask1 = Region(8);
        var maps = new MemoryMaps();
        float V(double n) => (float)(Math.Exp(n * Math.Log(2)) - 1); // log1p(V(n)) / log 2 = n: normalised value n
        maps.Add(0, "m", [.. mask0.Pixels.Select(p => p ? V(1) : V(0.205))], Side, Side);
        maps.Add(1, "m", [.. mask1.Pixels.Select(p => p ? V(0.755) : V(0.505))], Side, Side);
        maps.Maps[(0, 0, "m")] = ([.. maps.Maps[(0, 0, "m")].Item1.Select((v, i) => i == 15 ? V(0) : v)], Side, Side); // pins min 0
        var truth = new LocalizationTruth(
            [new LocalizationSample(0, 0, "a", TruthKind.Template, mask0), new LocalizationSample(1, 0, "b", TruthKind.Template, mask1)], Side, Side, []);

        var inA = PromptResampling.Split([1, 1], 0);
        var r = Evaluate(truth, maps, ["m"]);
        var m = Map(r, "tv", "m");
        Assert.Equal(1.0, m.Oracle!.Iou.Value);
        Assert.InRange(m.Oracle.Iou.Threshold!.Value, 0.505, 0.755);
        var held = m.HeldOut!;
        Assert.Equal((1, 1), (held.PromptsA, held.PromptsB));
        if (inA[0])
        {
            Assert.InRange(held.Metrics.Iou.Threshold!.Value, 0.205, 0.215); // the first θ perfect on prompt 0
            Assert.Equal(0.5, held.Metrics.Iou.Value, 12);                    // prompt 1: all 16 predicted, 8 true
        }
        else
        {
            Assert.InRange(held.Metrics.Iou.Threshold!.Value, 0.505, 0.515); // perfect on prompt 1, and so on prompt 0
            Assert.Equal(1.0, held.Metrics.Iou.Value, 12);
        }
        // The other split seed puts the other prompt in A: both branches run.
        var other = Enumerable.Range(1, 20).Select(seed => (ulong)seed).First(seed => PromptResampling.Split([1, 1], seed)[0] != inA[0]);
        var flipped = Map(Evaluate(truth, maps, ["m"], splitSeed: other), "tv", "m").HeldOut!;
        Assert.Equal(inA[0] ? 1.0 : 0.5, flipped.Metrics.Iou.Value, 12);
    }

    [Fact]
    public void TheSplitIsSeededStratifiedAndHalves()
    {
        // Strata of 20, 11 and 9 prompts (kinds as bit sets, as the evaluation makes them).
        int[] strata = [.. Enumerable.Range(0, 40).Select(i => i < 20 ? 1 : i < 31 ? 2 : 4)];
        var a = PromptResampling.Split(strata, 7);
        Assert.Equal(a, PromptResampling.Split(strata, 7));
        Assert.NotEqual(a, PromptResampling.Split(strata, 8));
        Assert.Equal(10, a.Take(20).Count(x => x));          // even stratum: 10 / 10
        Assert.Equal(6, a.Skip(20).Take(11).Count(x => x));  // first odd stratum: the extra prompt → A
        Assert.Equal(4, a.Skip(31).Count(x => x));           // second odd stratum: the extra prompt → B
        Assert.Equal(20, a.Count(x => x));
    }

    [Fact]
    public void TheSameSeedsGiveTheSameReportAndTheBootstrapMoves()
    {
        var (truth, maps) = Templates(4, 8, 2, 6, 5, 9, 1, 3);
        var rng = new Random(5);
        foreach (var i in Enumerable.Range(0, 8))
            maps.Add(i, "noisy", [.. Enumerable.Range(0, 16).Select(_ => (float)rng.NextDouble())], Side, Side);
        var first = Map(Evaluate(truth, maps, ["noisy"], bootstrap: 200, splitSeed: 3), "all", "noisy");
        var second = Map(Evaluate(truth, maps, ["noisy"], bootstrap: 200, splitSeed: 3), "all", "noisy");
        Assert.Equal(first.PixelAuc, second.PixelAuc);
        Assert.Equal(first.Oracle, second.Oracle);
        Assert.Equal(first.HeldOut, second.HeldOut);
        Assert.True(first.PixelAuc!.Low < first.PixelAuc.Value && first.PixelAuc.Value < first.PixelAuc.High,
            $"AUC {first.PixelAuc.Value} outside its interval [{first.PixelAuc.Low}, {first.PixelAuc.High}]");
        Assert.True(first.Oracle!.MIou.Low < first.Oracle.MIou.High);
    }

    [Fact]
    public void TheThresholdsAreNumpysLinspace()
    {
        var t = ThresholdScan.Thresholds;
        Assert.Equal(101, t.Length);
        Assert.Equal(-1e-6, t[0]);
        Assert.Equal(1 + 1e-6, t[100]);
        Assert.Equal(50 * ((1 + 1e-6 - -1e-6) / 100) + -1e-6, t[50]);
        Assert.Equal(1, ThresholdScan.Level(0f));     // above θ₀ only
        Assert.Equal(100, ThresholdScan.Level(1f));   // above every θ but the last
        Assert.Equal(51, ThresholdScan.Level(0.5f));  // θ₅₀ = 0.5 − 2e-8 < 0.5 < θ₅₁
    }

    [Fact]
    public void AnAllSetWithoutNegativesOrPositivesIsRefused()
    {
        var maps = new MemoryMaps();
        maps.Add(0, "m", new float[16], Side, Side);
        var ones = new LocalizationTruth([new LocalizationSample(0, 0, "a", TruthKind.Ones, BinaryMask.Ones(Side, Side))], Side, Side, []);
        var e = Assert.Throws<DejaException>(() => Evaluate(ones, maps, ["m"]));
        Assert.Contains("no negative pixel", e.Message);
        var zeros = new LocalizationTruth([new LocalizationSample(0, 0, "a", TruthKind.Zeros, BinaryMask.Zeros(Side, Side))], Side, Side, []);
        e = Assert.Throws<DejaException>(() => Evaluate(zeros, maps, ["m"]));
        Assert.Contains("no positive (memorized) pixel", e.Message);
    }

    [Fact]
    public void AnEmptyTvSetIsReportedEmpty()
    {
        var maps = new MemoryMaps();
        maps.Add(0, "m", Enumerable.Repeat(1f, 16).ToArray(), Side, Side);
        maps.Add(1, "m", new float[16], Side, Side);
        var truth = new LocalizationTruth([
            new LocalizationSample(0, 0, "a", TruthKind.Ones, BinaryMask.Ones(Side, Side)),
            new LocalizationSample(1, 0, "b", TruthKind.Zeros, BinaryMask.Zeros(Side, Side))], Side, Side, []);
        var r = Evaluate(truth, maps, ["m"]);
        var tv = r.Sets.Single(s => s.Name == "tv");
        Assert.Equal(0, tv.Samples);
        Assert.Empty(tv.Maps);
        Assert.Equal(1.0, Map(r, "all", "m").PixelAuc!.Value);
    }
}
