using System.Globalization;
using Deja.Memorization.Models;
using Deja.Tensors;

namespace Deja.Memorization.Detection;

/// <summary>
/// One screened prompt: its detection row and the verdict (null when the screener has no threshold), or
/// <paramref name="Error"/> when a score is not finite (the model overflowed: no verdict can be given).
/// </summary>
public sealed record ScreeningResult(DetectionRow Row, bool? Flagged, double? Threshold, string? ThresholdColumn, string? Error = null);

/// <summary>
/// Prompt screening as a service runs it (`deja serve`): a <see cref="DetectionRun"/> — the model, the
/// detectors and the noise exactly as `deja detect` builds them — and the decision threshold, from a
/// calibration file (checked against the run: same model, method and parameters) or given as a number.
/// The rule is <see cref="Calibration"/>'s: flagged ⇔ score &gt; threshold.
/// <para>
/// Noise: prompt p of a request is scored on <see cref="InitialNoise.For"/>(p), p its position in the
/// request. With the default policy (same seed for every prompt) that is the one x_T every prompt of
/// `deja detect` gets, whatever the batch; with --seed-policy index it is seed + p, so a request's scores
/// equal those of `deja detect` run on a prompt file holding that request's prompts in order. Either way a
/// score never depends on which other requests shared the model call, nor on the position in it.
/// </para>
/// </summary>
public sealed class Screener
{
    public DetectionRun Run { get; }
    public double? Threshold { get; }
    public string? ThresholdColumn { get; }
    public Calibration? Calibration { get; }
    /// <summary>The model's identity and the run's parameters, as score rows record them (compact JSON).</summary>
    public string ModelJson { get; }
    public string ParamsJson { get; }

    Screener(DetectionRun run, double? threshold, string? column, Calibration? calibration)
    {
        Run = run; Threshold = threshold; ThresholdColumn = column; Calibration = calibration;
        ModelJson = run.Model.Identity().ToJsonString();
        ParamsJson = run.Parameters().ToJsonString();
    }

    /// <summary>
    /// A screener with the threshold of <paramref name="calibration"/> (refused, naming the difference, when it
    /// was made for another model, method or parameter set), or <paramref name="threshold"/> on
    /// <paramref name="column"/> (default: the first detector's decision score), or none (scores only).
    /// </summary>
    public static Screener Create(DetectionRun run, Calibration? calibration = null, double? threshold = null, string? column = null)
    {
        ArgumentNullException.ThrowIfNull(run);
        if (calibration is not null && threshold is not null)
            throw new DejaException("serve: give one threshold: --calibration FILE or --threshold T, not both");
        if (threshold is { } t && !double.IsFinite(t))
            throw new DejaException($"serve: --threshold must be a finite number, got {t.ToString(CultureInfo.InvariantCulture)}");
        var columns = run.Detectors.SelectMany(d => d.ScoreNames).ToArray();
        if (column is not null && threshold is null)
            throw new DejaException("serve: --threshold-column needs --threshold");
        if (column is not null && !columns.Contains(column))
            throw new DejaException($"serve: --threshold-column \"{column}\" is not a score column of {run.Method} (it has {string.Join(", ", columns)})");
        var screener = new Screener(run, calibration?.Threshold ?? threshold, calibration?.Column ?? (threshold is null ? null : column ?? columns[0]), calibration);
        calibration?.Check(screener.ModelJson, run.Method, screener.ParamsJson);
        return screener;
    }

    /// <summary>
    /// Scores one batch in one detector pass: <paramref name="prompts"/>[i] on the noise of
    /// <paramref name="noiseIndices"/>[i] (its position in its own request). A non-finite score gives that
    /// prompt an error instead of a verdict, never a silent "not flagged", and leaves the others alone
    /// (they may belong to other requests).
    /// </summary>
    public IReadOnlyList<ScreeningResult> Screen(IReadOnlyList<string> prompts, IReadOnlyList<int> noiseIndices)
    {
        var rows = Run.Score(prompts, noiseIndices);
        return rows.Select(r =>
        {
            foreach (var (name, value) in r.Scores)
                if (!double.IsFinite(value))
                    return new ScreeningResult(r, null, Threshold, ThresholdColumn,
                        $"{name} = {value.ToString(CultureInfo.InvariantCulture)}: the model's outputs are not finite for this prompt");
            bool? flagged = Threshold is { } t ? r.Scores[ThresholdColumn!] > t : null;
            return new ScreeningResult(r, flagged, Threshold, ThresholdColumn);
        }).ToArray();
    }
}
