using System.Globalization;
using System.Text.Json.Nodes;
using Deja.Memorization.Evaluation;
using Deja.Tensors;

namespace Deja.Memorization.Mitigation;

/// <summary>A statistic over captions with its 95 % percentile-bootstrap interval.</summary>
public sealed record IntervalEstimate(double Value, double Low, double High)
{
    public JsonObject ToJson() => new() { ["value"] = Value, ["low"] = Low, ["high"] = High };
}

/// <summary>
/// One row of the mitigation table (issue 14 §4, `deja mitigate-summary`): a measured folder
/// (<see cref="SweepPoint"/>) with 95 % percentile-bootstrap intervals over its captions for the replication
/// rates (L2, SSIM), the median nearest L2 and the caption fidelity — captions resampled with replacement,
/// each resample from its own generator forked in order from <see cref="Seed"/>, so the intervals are
/// reproducible. Anisotropy after and seconds per prompt are the folder's means, without interval.
/// </summary>
public sealed record MitigationSummary(SweepPoint Point, IntervalEstimate ReplicatedL2, IntervalEstimate ReplicatedSsim,
    IntervalEstimate MedianNearestL2, IntervalEstimate? Fidelity, int Resamples, ulong Seed)
{
    public static MitigationSummary Of(SweepPoint point, int resamples = 1000, ulong seed = 0)
    {
        ArgumentNullException.ThrowIfNull(point);
        if (resamples < 1) throw new ArgumentException($"mitigate-summary: resamples must be at least 1, got {resamples}");
        var captions = point.Captions;
        int n = captions.Count;
        if (n == 0) throw new ArgumentException("mitigate-summary: a folder without captions");
        double[] l2 = [.. captions.Select(c => c.ReplicatedL2 ? 1.0 : 0.0)], ssim = [.. captions.Select(c => c.ReplicatedSsim ? 1.0 : 0.0)];
        double[] nearest = [.. captions.Select(c => c.MinL2)];
        double[]? fidelity = captions.All(c => c.Fidelity is not null) ? [.. captions.Select(c => c.Fidelity!.Value)] : null;
        static double Mean(double[] v, int[] idx) { double s = 0; foreach (var i in idx) s += v[i]; return s / idx.Length; }
        static double Median(double[] v, int[] idx) { var x = idx.Select(i => v[i]).Order().ToArray(); return Percentile.OfSorted(x, 50); }
        var samples = new double[4][];
        for (int k = 0; k < 4; k++) samples[k] = new double[resamples];
        var root = new Generator(seed);
        for (int b = 0; b < resamples; b++)
        {
            var g = new Generator(root.NextUInt64());
            var idx = new int[n];
            for (int i = 0; i < n; i++) idx[i] = g.NextInt(n);
            samples[0][b] = Mean(l2, idx); samples[1][b] = Mean(ssim, idx); samples[2][b] = Median(nearest, idx);
            samples[3][b] = fidelity is null ? 0 : Mean(fidelity, idx);
        }
        IntervalEstimate Interval(double value, double[] s) { Array.Sort(s); return new(value, Percentile.OfSorted(s, 2.5), Percentile.OfSorted(s, 97.5)); }
        var all = Enumerable.Range(0, n).ToArray();
        return new MitigationSummary(point, Interval(point.ReplicationL2, samples[0]), Interval(point.ReplicationSsim, samples[1]),
            Interval(point.MedianNearestL2, samples[2]), fidelity is null ? null : Interval(Mean(fidelity, all), samples[3]), resamples, seed);
    }

    public const string MarkdownHeader =
        "| folder | method | captions | replicated, L2 < 0.1 | replicated, SSIM > 0.8 | median nearest L2 | caption fidelity | anisotropy after | s / prompt |\n" +
        "|---|---|---|---|---|---|---|---|---|";

    static string Percent(IntervalEstimate e) => string.Create(CultureInfo.InvariantCulture, $"{100 * e.Value:F0} % [{100 * e.Low:F0}, {100 * e.High:F0}]");

    /// <summary>The row as the README's mitigation table writes it.</summary>
    public string ToMarkdown() => string.Create(CultureInfo.InvariantCulture,
        $"| {Point.Folder} | {Point.Method} | {Point.Captions.Count} | {Percent(ReplicatedL2)} | {Percent(ReplicatedSsim)} | " +
        $"{MedianNearestL2.Value:F3} [{MedianNearestL2.Low:F3}, {MedianNearestL2.High:F3}] | {(Fidelity is null ? "-" : Percent(Fidelity))} | " +
        $"{(Point.ScoreAfter is { } a ? a.ToString("F2", CultureInfo.InvariantCulture) : "-")} | {Point.SecondsPerPrompt:F1} |");

    public JsonObject ToJson()
    {
        var o = Point.ToJson(withCaptions: false);
        o["replicated_l2_ci"] = ReplicatedL2.ToJson();
        o["replicated_ssim_ci"] = ReplicatedSsim.ToJson();
        o["median_nearest_l2_ci"] = MedianNearestL2.ToJson();
        o["fidelity_ci"] = Fidelity?.ToJson();
        o["bootstrap"] = new JsonObject { ["resamples"] = Resamples, ["seed"] = Seed, ["interval"] = "95 % percentile, captions resampled" };
        return o;
    }
}
