using System.Globalization;
using System.Text.Json.Nodes;
using Deja.Tensors;

namespace Deja.Memorization.Mitigation;

/// <summary>How a guarded row was composed: the threshold, where it came from, and how many captions it flagged.</summary>
public sealed record GuardSetting(double Threshold, int Flagged, string Source)
{
    public JsonObject ToJson() => new() { ["threshold"] = Threshold, ["flagged"] = Flagged, ["source"] = Source };
}

/// <summary>
/// What `deja generate --guard` gives a set of captions, composed from two measured `deja mitigate` folders
/// of the same model, captions and noise (issue 14 §4, the guard's trade-off): an un-mitigated one (method
/// none) and a mitigated one. The guard scores a prompt on its generation's own initial noise, which is
/// what the rows record as score_before; a caption scoring above the threshold takes the mitigated folder's
/// measurements (images, fidelity, seconds), every other caption the plain folder's. Nothing is generated
/// again, so a whole range of thresholds costs one run of each folder.
/// </summary>
public static class GuardComposition
{
    /// <summary>Both folders' scores of a prompt come from the same noise and model, so they agree to float rounding.</summary>
    const double ScoreTolerance = 1e-6;

    public static SweepPoint Compose(SweepPoint plain, SweepPoint mitigated, double threshold, string source)
    {
        ArgumentNullException.ThrowIfNull(plain);
        ArgumentNullException.ThrowIfNull(mitigated);
        if (plain.Method != "none") throw new DejaException($"guard: {plain.Folder} holds method {plain.Method}; the un-mitigated side must be a --method none folder");
        if (double.IsNaN(threshold)) throw new DejaException("guard: the threshold is NaN");
        var byCaption = mitigated.Captions.ToDictionary(c => c.Caption, StringComparer.Ordinal);
        if (byCaption.Count != plain.Captions.Count || plain.Captions.Any(c => !byCaption.ContainsKey(c.Caption)))
            throw new DejaException($"guard: {plain.Folder} and {mitigated.Folder} hold different captions ({plain.Captions.Count} and {mitigated.Captions.Count}); run both on the same --prompts");
        if (plain.Generations != mitigated.Generations)
            throw new DejaException($"guard: {plain.Folder} has {plain.Generations} generations per caption, {mitigated.Folder} {mitigated.Generations}");
        var captions = new List<SweepCaption>(plain.Captions.Count);
        int flagged = 0;
        foreach (var p in plain.Captions)
        {
            var m = byCaption[p.Caption];
            double score = p.Numbers.ScoreBefore
                ?? throw new DejaException($"guard: {plain.Folder} records no score_before for \"{p.Caption}\"; run deja mitigate with its default scorer");
            if (m.Numbers.ScoreBefore is { } other && Math.Abs(other - score) > ScoreTolerance * Math.Max(1, Math.Abs(score)))
                throw new DejaException($"guard: \"{p.Caption}\" scores {score:R} in {plain.Folder} and {other:R} in {mitigated.Folder}: not the same noise; run both with the same --prompts, --seed and --n");
            bool isFlagged = score > threshold;
            if (isFlagged) flagged++;
            captions.Add(isFlagged ? m : p);
        }
        string label = string.Create(CultureInfo.InvariantCulture,
            $"{mitigated.Folder} guarded by {source}: {flagged}/{captions.Count} flagged");
        return SweepPoint.FromCaptions(mitigated.Method, mitigated.Strength, label, plain.Generations, captions) with
        {
            Guard = new GuardSetting(threshold, flagged, source),
        };
    }
}
