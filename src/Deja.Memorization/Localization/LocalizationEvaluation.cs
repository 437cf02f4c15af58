using Deja.Memorization.Evaluation;
using Deja.Tensors;
using Deja.Tensors.Kernels;

namespace Deja.Memorization.Localization;

/// <summary>Where the evaluation reads a sample's map: row-major values and their [H, W].</summary>
public interface IMapSource
{
    (float[] Values, int Height, int Width) Read(int index, int generation, string map);
}

/// <summary>
/// Kim &amp; Lee's localization evaluation (METHODS.md §4.7), per map and per set: each map is resized to
/// the mask resolution (PIL bilinear), L = log(1 + map), normalised with the min and max over all maps
/// of the set, thresholded at 101 values, and each metric's maximum over θ is reported (an oracle
/// threshold). Beyond K (§4.7.7): a threshold chosen on half of the prompts and scored on the other
/// half, pixel ROC-AUC and AP, and percentile bootstrap intervals over prompts. The constant all-ones
/// map is always evaluated beside the real maps: a map is only informative where it beats it.
/// </summary>
public static class LocalizationEvaluation
{
    public const string BaselineName = "all_ones";

    /// <summary>K's ε in the min–max denominator.</summary>
    const float Epsilon = 1e-8f;

    sealed class SetPlan(string name, string label, int[] samples, int[] promptOfSample, int prompts, int[][] resamples, bool[] inA, int[][] resamplesOfB)
    {
        public string Name => name;
        public string Label => label;
        public int[] Samples => samples;            // indices into truth.Samples
        public int[] PromptOfSample => promptOfSample;
        public int Prompts => prompts;
        public int[][] Resamples => resamples;
        public bool[] InA => inA;
        public int[][] ResamplesOfB => resamplesOfB;
    }

    public static LocalizationReport Evaluate(LocalizationTruth truth, IMapSource maps, IReadOnlyList<string> mapNames, LocalizationOptions options)
    {
        if (options.BootstrapResamples < 0) throw new ArgumentOutOfRangeException(nameof(options), $"bootstrap: resamples must be ≥ 0, got {options.BootstrapResamples}");
        if (!(options.Confidence > 0 && options.Confidence < 1)) throw new ArgumentOutOfRangeException(nameof(options), $"bootstrap: confidence must be in (0, 1), got {options.Confidence}");
        if (mapNames.Contains(BaselineName)) throw new DejaException($"eval-localize: a map is named {BaselineName}, the name of the baseline; rename it");
        CheckAllSet(truth);

        var plans = new[]
        {
            Plan("tv", "TV only", truth, s => s.Kind == TruthKind.Template, options),
            Plan("all", "ALL (unbalanced)", truth, _ => true, options),
        };
        var results = plans.Select(_ => new List<MapEvaluation>()).ToArray();
        foreach (var name in mapNames.Append(BaselineName))
        {
            var logs = LogMaps(truth, maps, name);
            for (int s = 0; s < plans.Length; s++)
                if (plans[s].Samples.Length > 0) results[s].Add(EvaluateMap(plans[s], truth, logs, name, options));
        }
        var sets = plans.Select((p, s) => new SetEvaluation(p.Name, p.Label, p.Samples.Length, p.Prompts,
            p.Samples.Sum(i => truth.Samples[i].Mask.Positives), p.Samples.Sum(i => truth.Samples[i].Mask.Negatives), results[s])).ToList();
        return new LocalizationReport(truth.Height, truth.Width, options, sets);
    }

    /// <summary>ALL is the headline set: without both classes no IoU scan and no AUC means anything, so
    /// the whole run is refused (TV only may be empty; it is then reported as such).</summary>
    static void CheckAllSet(LocalizationTruth truth)
    {
        if (truth.Samples.Count == 0)
            throw new DejaException("eval-localize: no mapped generation has a ground truth (no localize prompt matches the ground truth); nothing to evaluate");
        long positives = truth.Samples.Sum(s => s.Mask.Positives), negatives = truth.Samples.Sum(s => s.Mask.Negatives);
        if (positives == 0)
            throw new DejaException($"eval-localize: the ground truth of the {truth.Samples.Count} evaluated samples has no positive (memorized) pixel: " +
                                    "no template or whole-image memorized sample, so IoU and AUC are undefined");
        if (negatives == 0)
            throw new DejaException($"eval-localize: the ground truth of the {truth.Samples.Count} evaluated samples has no negative pixel: " +
                                    "every mask is all ones (no template region, no non-memorized prompt), so AUC is undefined and IoU is trivial");
    }

    static SetPlan Plan(string name, string label, LocalizationTruth truth, Func<LocalizationSample, bool> member, LocalizationOptions options)
    {
        var samples = Enumerable.Range(0, truth.Samples.Count).Where(i => member(truth.Samples[i])).ToArray();
        var promptIds = new Dictionary<int, int>();
        var promptOf = new int[samples.Length];
        var kinds = new List<int>();
        for (int k = 0; k < samples.Length; k++)
        {
            var s = truth.Samples[samples[k]];
            if (!promptIds.TryGetValue(s.Index, out int id)) { promptIds[s.Index] = id = promptIds.Count; kinds.Add(0); }
            promptOf[k] = id;
            kinds[id] |= 1 << (int)s.Kind; // stratum: the set of truth kinds of the prompt's samples
        }
        var strata = kinds.ToArray();
        var inA = PromptResampling.Split(strata, options.SplitSeed);
        var resamples = PromptResampling.Bootstrap(strata, null, options.BootstrapResamples, options.Seed);
        var resamplesOfB = PromptResampling.Bootstrap(strata, [.. inA.Select(a => !a)], options.BootstrapResamples, options.Seed);
        return new SetPlan(name, label, samples, promptOf, strata.Length, resamples, inA, resamplesOfB);
    }

    /// <summary>
    /// L = log(1 + map) after resizing to the mask resolution, for every sample (null = skipped: a map
    /// with NaN or ±∞, as K skips them, or with a value ≤ −1, whose log(1 + x) is undefined and would
    /// poison the set's min–max). Stored as float32, as K's numpy arrays are.
    /// </summary>
    static float[]?[] LogMaps(LocalizationTruth truth, IMapSource maps, string name)
    {
        int h = truth.Height, w = truth.Width;
        var logs = new float[]?[truth.Samples.Count];
        if (name == BaselineName)
        {
            var constant = new float[h * w];
            Array.Fill(constant, (float)Log1p(1.0));
            for (int i = 0; i < logs.Length; i++) logs[i] = constant;
            return logs;
        }
        var byGeneration = new Dictionary<(int, int), float[]?>(); // a generation with two masks is read once
        for (int i = 0; i < logs.Length; i++)
        {
            var s = truth.Samples[i];
            if (byGeneration.TryGetValue((s.Index, s.Generation), out var done)) { logs[i] = done; continue; }
            var (values, mh, mw) = maps.Read(s.Index, s.Generation, name);
            float[]? result = null;
            if (Usable(values))
            {
                var resized = BilinearResize.Resize(values, mh, mw, h, w);
                result = new float[resized.Length];
                for (int p = 0; p < resized.Length; p++) result[p] = (float)Log1p(resized[p]);
            }
            logs[i] = byGeneration[(s.Index, s.Generation)] = result;
        }
        return logs;
    }

    static bool Usable(float[] values)
    {
        foreach (var v in values) if (!float.IsFinite(v) || v <= -1) return false;
        return true;
    }

    /// <summary>log(1 + x) accurate for small x (Goldberg's trick: the rounding of 1 + x cancels).</summary>
    internal static double Log1p(double x)
    {
        double u = 1 + x;
        return u == 1 ? x : Math.Log(u) * x / (u - 1);
    }

    static MapEvaluation EvaluateMap(SetPlan plan, LocalizationTruth truth, float[]?[] logs, string name, LocalizationOptions options)
    {
        bool baseline = name == BaselineName;
        var valid = Enumerable.Range(0, plan.Samples.Length).Where(k => logs[plan.Samples[k]] is not null).ToArray();
        int skipped = plan.Samples.Length - valid.Length;
        var notes = new List<string>();
        if (skipped > 0) notes.Add($"{skipped} sample(s) skipped: the map holds NaN, ±∞ or a value ≤ −1");
        if (valid.Length == 0)
        {
            notes.Add("no usable map in this set");
            return new MapEvaluation(name, baseline, 0, 0, skipped, double.NaN, double.NaN, 0, 0, null, null, null, null, null, notes);
        }

        // K's normalisation: global min and max of L over the set (§4.7.3), in float32 as numpy.
        float min = float.PositiveInfinity, max = float.NegativeInfinity;
        foreach (int k in valid)
            foreach (var v in logs[plan.Samples[k]]!) { if (v < min) min = v; if (v > max) max = v; }
        float denominator = max - min + Epsilon;

        int pixelsPerSample = truth.Height * truth.Width;
        long totalPixels = (long)valid.Length * pixelsPerSample;
        if (totalPixels > Array.MaxLength)
            throw new DejaException($"eval-localize: {totalPixels} pixels in set {plan.Label} is more than one evaluation can rank; use smaller masks or fewer samples");
        var table = new ScanTable(plan.Prompts);
        var keys = new ulong[totalPixels];
        var positiveLevels = new long[ThresholdScan.Count + 1];
        var negativeLevels = new long[ThresholdScan.Count + 1];
        long positives = 0, negatives = 0;
        int next = 0;
        var promptsWithSamples = new HashSet<int>();
        foreach (int k in valid)
        {
            int prompt = plan.PromptOfSample[k];
            promptsWithSamples.Add(prompt);
            var log = logs[plan.Samples[k]]!;
            var mask = truth.Samples[plan.Samples[k]].Mask.Pixels;
            Array.Clear(positiveLevels);
            Array.Clear(negativeLevels);
            for (int p = 0; p < pixelsPerSample; p++)
            {
                float n = Math.Clamp((log[p] - min) / denominator, 0f, 1f);
                int level = ThresholdScan.Level(n);
                if (mask[p]) positiveLevels[level]++; else negativeLevels[level]++;
                keys[next++] = PixelRanking.Key(n, prompt, mask[p]);
            }
            table.Add(prompt, positiveLevels, negativeLevels);
            foreach (var c in positiveLevels) positives += c;
            foreach (var c in negativeLevels) negatives += c;
        }
        var ranking = PixelRanking.Build(keys);

        var curves = table.Curves([]);
        var oracle = Oracle(plan, table, curves, options);
        var heldOut = HeldOut(plan, table, options, notes);
        Estimate? auc = null, ap = null;
        if (positives == 0 || negatives == 0)
            notes.Add($"pixel AUC and AP undefined: the set has no {(positives == 0 ? "positive" : "negative")} pixel");
        else
            (auc, ap) = Ranking(plan, ranking, options, notes);
        return new MapEvaluation(name, baseline, valid.Length, promptsWithSamples.Count, skipped, min, max, positives, negatives,
            oracle, curves, heldOut, auc, ap, notes);
    }

    /// <summary>K's report: each metric's maximum over θ on the whole set; the interval re-takes the
    /// maximum in every resample (the oracle is part of the statistic).</summary>
    static ThresholdMetrics Oracle(SetPlan plan, ScanTable table, ScanCurves curves, LocalizationOptions options)
    {
        var boot = new double[plan.Resamples.Length][];
        Threading.For(boot.Length, b =>
        {
            var c = table.Curves(plan.Resamples[b]);
            boot[b] = [ScanCurves.Max(c.Iou).Value, ScanCurves.Max(c.MIou).Value, ScanCurves.Max(c.Accuracy).Value];
        });
        Estimate Metric(int m, double[] curve)
        {
            var (value, at) = ScanCurves.Max(curve);
            var (low, high) = Interval(boot.Select(r => r[m]), options);
            return new Estimate(value, at >= 0 ? ThresholdScan.Thresholds[at] : null, low, high);
        }
        return new ThresholdMetrics(Metric(0, curves.Iou), Metric(1, curves.MIou), Metric(2, curves.Accuracy));
    }

    /// <summary>
    /// The non-oracle threshold: per metric, the θ that maximises it on half A of the prompts (first on
    /// ties), and the metric at that θ on half B. The normalisation stays the whole set's min–max (K's
    /// set-level normalisation; only the threshold is held out). The interval resamples half B's prompts
    /// with θ fixed; it leaves out the variation of the split itself.
    /// </summary>
    static HeldOutThreshold? HeldOut(SetPlan plan, ScanTable table, LocalizationOptions options, List<string> notes)
    {
        var a = new int[plan.Prompts];
        var b = new int[plan.Prompts];
        int promptsA = 0, promptsB = 0;
        for (int p = 0; p < plan.Prompts; p++)
        {
            if (table.SamplesOf(p) == 0) continue;
            if (plan.InA[p]) { a[p] = 1; promptsA++; } else { b[p] = 1; promptsB++; }
        }
        if (promptsA == 0 || promptsB == 0)
        {
            notes.Add("held-out threshold unavailable: it needs at least one prompt in each half of the split");
            return null;
        }
        var curvesA = table.Curves(a);
        var curvesB = table.Curves(b);
        var chosen = new[] { ScanCurves.Max(curvesA.Iou).Index, ScanCurves.Max(curvesA.MIou).Index, ScanCurves.Max(curvesA.Accuracy).Index };
        static double[] Pick(ScanCurves c, int m) => m switch { 0 => c.Iou, 1 => c.MIou, _ => c.Accuracy };
        var boot = new double[plan.ResamplesOfB.Length][];
        Threading.For(boot.Length, r =>
        {
            var c = table.Curves(plan.ResamplesOfB[r]);
            boot[r] = [.. Enumerable.Range(0, 3).Select(m => Pick(c, m)[chosen[m]])];
        });
        Estimate Metric(int m)
        {
            var (low, high) = Interval(boot.Select(r => r[m]), options);
            return new Estimate(Pick(curvesB, m)[chosen[m]], ThresholdScan.Thresholds[chosen[m]], low, high);
        }
        return new HeldOutThreshold(promptsA, promptsB, new ThresholdMetrics(Metric(0), Metric(1), Metric(2)));
    }

    static (Estimate Auc, Estimate Ap) Ranking(SetPlan plan, PixelRanking ranking, LocalizationOptions options, List<string> notes)
    {
        var (auc, ap) = ranking.Evaluate([]);
        var boot = new (double Auc, double Ap)[plan.Resamples.Length];
        Threading.For(boot.Length, b => boot[b] = ranking.Evaluate(plan.Resamples[b]));
        int undefined = boot.Count(r => double.IsNaN(r.Auc));
        if (undefined > 0) notes.Add($"pixel AUC interval: {undefined} of {boot.Length} resamples lacked a class and were left out");
        var (al, ah) = Interval(boot.Select(r => r.Auc), options);
        var (pl, ph) = Interval(boot.Select(r => r.Ap), options);
        return (new Estimate(auc, null, al, ah), new Estimate(ap, null, pl, ph));
    }

    /// <summary>The percentile interval (numpy's linear percentile) of the defined resample values; null without any.</summary>
    static (double? Low, double? High) Interval(IEnumerable<double> values, LocalizationOptions options)
    {
        var sorted = values.Where(v => !double.IsNaN(v)).Order().ToArray();
        if (sorted.Length == 0) return (null, null);
        double tail = (1 - options.Confidence) / 2 * 100;
        return (Percentile.OfSorted(sorted, tail), Percentile.OfSorted(sorted, 100 - tail));
    }
}
