using System.Globalization;
using Deja.Memorization.Models;
using Deja.Tensors;

namespace Deja.Memorization.Mitigation;

/// <summary>
/// One curve of `deja mitigate --sweep`: a method and the strengths it is run at. The papers report
/// mitigation as trade-off curves (SAIL App. D: Wen's ℓ_target 1–5, random tokens {1, 2, 4, 6, 8}, SAIL's
/// ℓ_thres), so each method has one knob that moves it from weak to strong:
///   prompt: --target-loss (lower = more updates = stronger), prompt-anisotropy: --stop-threshold (lower =
///   stronger), sail: --accept-threshold (lower = stronger), random-tokens: --repeat (more words = stronger).
/// Written `METHOD` (the default strengths) or `METHOD:S1,S2,…`.
/// </summary>
public sealed record SweepCurve(MitigationMethod Method, IReadOnlyList<double> Strengths)
{
    /// <summary>Wen et al.'s ℓ_target range (SAIL App. D). The loss is a norm over the n images jointly, so it grows with √n.</summary>
    public static readonly double[] PromptTargets = [1, 2, 3, 4, 5];
    /// <summary>Wen's random-token counts (SAIL App. D).</summary>
    public static readonly double[] RandomTokenRepeats = [1, 2, 4, 6, 8];
    /// <summary>
    /// deja-mini's SAIL thresholds, measured: ℓ on held-out captions' initial noise is 5.29–7.21, ten Adam
    /// steps bring memorized captions' candidates to 3.6–4.3; 5.3 is nearly no mitigation, 4.0 the default.
    /// </summary>
    public static readonly double[] DejaMiniSailThresholds = [4.0, 4.5, 5.0, 5.3];
    /// <summary>
    /// deja-mini's anisotropy stop thresholds, measured: the 27 verbatim captions score 1.9–4.1 before and
    /// 0.12–0.59 after all 10 updates (calibrated detection threshold at 1 % FPR: 3.34).
    /// </summary>
    public static readonly double[] DejaMiniAnisotropyStops = [0.5, 1, 1.5, 2, 3];

    /// <summary>The option each strength sets.</summary>
    public static string StrengthName(MitigationMethod method) => method switch
    {
        MitigationMethod.Prompt => "target_loss",
        MitigationMethod.PromptAnisotropy => "stop_threshold",
        MitigationMethod.Sail => "accept_threshold",
        MitigationMethod.RandomTokens => "repeat",
        _ => "",
    };

    /// <summary>Parses `METHOD` or `METHOD:S1,S2,…`; a method without values gets <see cref="Defaults"/> for <paramref name="model"/>.</summary>
    public static SweepCurve Parse(string text, IDiffusionModelView model)
    {
        ArgumentNullException.ThrowIfNull(text);
        int colon = text.IndexOf(':');
        var method = MitigationRun.ParseMethod(colon < 0 ? text : text[..colon]);
        if (colon < 0) return new SweepCurve(method, Defaults(method, model));
        if (method == MitigationMethod.None) throw new DejaException($"mitigate: --sweep '{text}': none has no strength (it is the un-mitigated baseline)");
        var values = new List<double>();
        foreach (var part in text[(colon + 1)..].Split(',', StringSplitOptions.TrimEntries))
        {
            if (!double.TryParse(part, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v))
                throw new DejaException($"mitigate: --sweep '{text}': '{part}' is not a number");
            if (method == MitigationMethod.RandomTokens && (v < 1 || v != Math.Floor(v)))
                throw new DejaException($"mitigate: --sweep '{text}': random-tokens' --repeat must be a whole number ≥ 1, got {part}");
            if (v < 0) throw new DejaException($"mitigate: --sweep '{text}': {StrengthName(method)} must be ≥ 0, got {part}");
            if (!values.Contains(v)) values.Add(v);
        }
        if (values.Count == 0) throw new DejaException($"mitigate: --sweep '{text}': no strengths after ':'");
        return new SweepCurve(method, values);
    }

    /// <summary>
    /// The default strengths: Wen's ranges for prompt and random-tokens on any model; SAIL's and the anisotropy
    /// stop's measured ranges for the bundled deja-mini only (elsewhere they must be given, since a
    /// threshold is a property of the model).
    /// </summary>
    public static IReadOnlyList<double> Defaults(MitigationMethod method, IDiffusionModelView model)
    {
        bool mini = model.Id == SailDefaults.DejaMiniId;
        return method switch
        {
            MitigationMethod.None => [],
            MitigationMethod.Prompt => PromptTargets,
            MitigationMethod.RandomTokens => RandomTokenRepeats,
            MitigationMethod.Sail when mini => DejaMiniSailThresholds,
            MitigationMethod.PromptAnisotropy when mini => DejaMiniAnisotropyStops,
            MitigationMethod.Sail => throw new DejaException($"mitigate: --sweep sail has measured default thresholds for the bundled deja-mini only; give them, e.g. --sweep sail:7.4,7.8,8.2 ({SailDefaults.Sd1Threshold} is SAIL's SD1 value)"),
            _ => throw new DejaException("mitigate: --sweep prompt-anisotropy has measured default stop thresholds for the bundled deja-mini only; give them, e.g. around a deja calibrate threshold: --sweep prompt-anisotropy:1,2,3"),
        };
    }

    /// <summary>A strength as folder names and tables print it (invariant, shortest).</summary>
    public static string Format(double strength) => strength.ToString("0.####", CultureInfo.InvariantCulture);
}
