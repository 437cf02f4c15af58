using System.Globalization;
using System.Text.Json.Nodes;
using Deja.Memorization.Evaluation;
using Deja.Memorization.Replication;

namespace Deja.Memorization.Mitigation;

/// <summary>
/// One caption at one sweep point: the closest any of its generations came to a training image, its mean
/// caption fidelity, and its prompt's wall seconds and anisotropy before/after as the rows record them.
/// </summary>
public sealed record SweepCaption(string Caption, string Kind, double MinL2, double MaxSsim, bool ReplicatedL2, bool ReplicatedSsim, double? Fidelity)
{
    public PromptNumbers Numbers { get; init; } = new(null, null, null);
}

/// <summary>
/// One (method, strength) of a sweep, measured: the share of captions that replicate (a generation within
/// normalized L2 &lt; 0.1 of a training image; separately SSIM &gt; 0.8 — `deja replicate`'s definitions), the
/// median over captions of the nearest L2, the mean caption fidelity over all generations (the judge), the
/// mean anisotropy score of what generation was conditioned on, and the wall seconds per prompt.
/// </summary>
public sealed record SweepPoint(string Method, double? Strength, string Folder)
{
    public string StrengthName => SweepCurve.StrengthName(MitigationRun.ParseMethod(Method));
    public required IReadOnlyList<SweepCaption> Captions { get; init; }
    public int Generations { get; init; }
    public double ReplicationL2 { get; init; }
    public double ReplicationSsim { get; init; }
    public double MedianNearestL2 { get; init; }
    /// <summary>Mean over all generations of the fraction of the caption's attributes the judge finds; null without a judge.</summary>
    public double? Fidelity { get; init; }
    public double? ScoreAfter { get; init; }
    public double SecondsPerPrompt { get; init; }
    /// <summary>Set on a guarded row (<see cref="GuardComposition"/>): the threshold and how many captions it flagged.</summary>
    public GuardSetting? Guard { get; init; }

    /// <summary>
    /// The point's numbers from per-caption replication results, per-caption fidelities (the mean over each
    /// caption's generations; null: not judged) and per-caption prompt numbers (null: none recorded). All
    /// captions have the same number of generations, so the mean of the per-caption fidelities is the mean
    /// over generations.
    /// </summary>
    public static SweepPoint Summarize(string method, double? strength, string folder, IReadOnlyList<ReplicationResult> results,
        IReadOnlyList<double>? fidelity, IReadOnlyList<PromptNumbers>? numbers = null)
    {
        if (results.Count == 0) throw new ArgumentException("sweep: a point without captions");
        if (fidelity is not null && fidelity.Count != results.Count) throw new ArgumentException($"sweep: {fidelity.Count} fidelities for {results.Count} captions");
        if (numbers is not null && numbers.Count != results.Count) throw new ArgumentException($"sweep: {numbers.Count} prompt rows for {results.Count} captions");
        return FromCaptions(method, strength, folder, results[0].Generations, [.. results.Select((r, i) =>
            new SweepCaption(r.Case.Caption, r.Case.Kind, r.MinNormalizedL2, r.MaxSsim, r.ReplicatedL2, r.ReplicatedSsim, fidelity?[i])
            { Numbers = numbers?[i] ?? new(null, null, null) })]);
    }

    /// <summary>
    /// The point's aggregates from its captions: replication rates, the median nearest L2, the mean fidelity
    /// (null unless every caption was judged), and the means of the recorded seconds and anisotropy after.
    /// </summary>
    public static SweepPoint FromCaptions(string method, double? strength, string folder, int generations, IReadOnlyList<SweepCaption> captions)
    {
        if (captions.Count == 0) throw new ArgumentException("sweep: a point without captions");
        var l2 = captions.Select(c => c.MinL2).Order().ToArray();
        var seconds = captions.Where(c => c.Numbers.Seconds is not null).Select(c => c.Numbers.Seconds!.Value).ToList();
        var after = captions.Where(c => c.Numbers.ScoreAfter is not null).Select(c => c.Numbers.ScoreAfter!.Value).ToList();
        return new SweepPoint(method, strength, folder)
        {
            Captions = captions,
            Generations = generations,
            ReplicationL2 = captions.Count(c => c.ReplicatedL2) / (double)captions.Count,
            ReplicationSsim = captions.Count(c => c.ReplicatedSsim) / (double)captions.Count,
            MedianNearestL2 = Percentile.OfSorted(l2, 50),
            Fidelity = captions.All(c => c.Fidelity is not null) ? captions.Average(c => c.Fidelity!.Value) : null,
            ScoreAfter = after.Count > 0 ? after.Average() : null,
            SecondsPerPrompt = seconds.Count > 0 ? seconds.Average() : 0,
        };
    }

    /// <summary>The point's label in tables and the plot: "prompt 3", "random-tokens 4", "none".</summary>
    public string Label => Strength is { } s ? $"{Method} {SweepCurve.Format(s)}" : Method;

    public JsonObject ToJson(bool withCaptions = false)
    {
        var o = new JsonObject
        {
            ["method"] = Method, ["strength_name"] = Strength is null ? null : StrengthName, ["strength"] = Strength,
            ["prompts"] = Captions.Count, ["n"] = Generations,
            ["replicated_l2"] = Round(ReplicationL2), ["replicated_ssim"] = Round(ReplicationSsim),
            ["replicated_l2_count"] = Captions.Count(c => c.ReplicatedL2), ["replicated_ssim_count"] = Captions.Count(c => c.ReplicatedSsim),
            ["median_nearest_l2"] = Round(MedianNearestL2), ["fidelity"] = Fidelity is { } f ? Round(f) : null,
            ["anisotropy_after"] = ScoreAfter is { } a && double.IsFinite(a) ? Round(a) : null, ["seconds_per_prompt"] = Math.Round(SecondsPerPrompt, 3),
            ["folder"] = Folder,
        };
        if (Guard is not null) o["guard"] = Guard.ToJson();
        if (withCaptions)
            o["captions"] = new JsonArray([.. Captions.Select(c => (JsonNode)new JsonObject
            {
                ["caption"] = c.Caption, ["kind"] = c.Kind, ["min_l2"] = Round(c.MinL2), ["max_ssim"] = Round(c.MaxSsim),
                ["replicated_l2"] = c.ReplicatedL2, ["replicated_ssim"] = c.ReplicatedSsim, ["fidelity"] = c.Fidelity is { } cf ? Round(cf) : null,
            })]);
        return o;
    }

    public const string CsvHeader = "method,strength_name,strength,prompts,n,replicated_l2,replicated_ssim,median_nearest_l2,fidelity,anisotropy_after,seconds_per_prompt,folder";

    public string ToCsv() => string.Join(",",
        Method, Strength is null ? "" : StrengthName, Strength is { } s ? SweepCurve.Format(s) : "", Captions.Count.ToString(CultureInfo.InvariantCulture),
        Generations.ToString(CultureInfo.InvariantCulture), N(ReplicationL2), N(ReplicationSsim), N(MedianNearestL2),
        Fidelity is { } f ? N(f) : "", ScoreAfter is { } a ? N(a) : "", SecondsPerPrompt.ToString("0.###", CultureInfo.InvariantCulture), Folder);

    static double Round(double v) => Math.Round(v, 5);
    static string N(double v) => Math.Round(v, 5).ToString("0.#####", CultureInfo.InvariantCulture);
}
