using System.Text.Json.Nodes;
using Deja.Memorization.Models;
using Deja.Tensors;

namespace Deja.Memorization.Detection;

/// <summary>Which per-pixel vectors the cosine term compares (METHODS.md §3.1), u = unconditional, c = conditional.</summary>
public enum AnisotropyMode
{
    /// <summary>"x,c|x": cos(u, c − u), the unconditional score against the guidance vector (default, the paper's choice).</summary>
    UncondVsGuidance,
    /// <summary>"x,x|c": cos(c, u).</summary>
    CondVsUncond,
    /// <summary>"x|c,c|x": cos(c, c − u).</summary>
    CondVsGuidance,
}

/// <summary>
/// How v-branch models (SD2-v, and RV by the reference code's quirk) are scaled:
/// <see cref="Code"/> reproduces Asthana's code (norm = √ᾱ/σ²·‖Δ raw‖, cosine on the raw outputs), which
/// the published γ were tuned with; <see cref="Epsilon"/> converts to ε first (‖Δε‖, cosine of ε).
/// SD1 and the analytic ε-model are the same under both.
/// </summary>
public enum ScoreScaling { Code, Epsilon }

/// <summary>
/// Asthana &amp; Belagiannis (ICLR'26) anisotropy detection, METHODS.md §3.1: on the SAME pure noise x_T,
/// a norm term N = mean_j ‖ε_c − ε_u‖ at t_N = timesteps[0] (high noise, nearly isotropic) and a cosine
/// term C = mean_j mean_pixels cos(ε_u, ε_c − ε_u) along the channel axis at t_C = timesteps[−3]
/// (low noise, anisotropic); the score is S = γ₁·N + γ₂·C. Exactly two model calls per batch — the
/// reference code's two wasted calls at step 1 are not made — and no denoising.
/// </summary>
public sealed class AnisotropyDetector : IMemorizationDetector
{
    public string Method => "anisotropy";
    public IReadOnlyList<string> ScoreNames { get; } = ["anisotropy", "anisotropy_norm", "anisotropy_cosine"];
    public int ModelCallsPerBatch => 2;

    /// <summary>Inference steps whose DDIM timesteps the indices below refer to (50: 981, 961, …, 1).</summary>
    public int Steps { get; init; } = 50;
    /// <summary>Index of t_N in the timesteps (0 → 981). Negative counts from the end.</summary>
    public int NormStepIndex { get; init; } = 0;
    /// <summary>Index of t_C (−3 → 41; an earlier revision of the code used −1 → 1).</summary>
    public int CosineStepIndex { get; init; } = -3;
    public AnisotropyMode Mode { get; init; } = AnisotropyMode.UncondVsGuidance;
    /// <summary>γ₁ (norm weight); null: the model family's published value.</summary>
    public double? NormWeight { get; init; }
    /// <summary>γ₂ (cosine weight); null: the model family's published value.</summary>
    public double? CosineWeight { get; init; }
    public ScoreScaling Scaling { get; init; } = ScoreScaling.Code;
    /// <summary>Round N and C to bfloat16 before combining, as the reference code's bf16 result containers do (parity only).</summary>
    public bool RoundToBf16 { get; init; }

    /// <summary>The published (γ₁, γ₂): SD1 (1, 2), SD2-v (1, 0.1), Realistic Vision (2, 1); the analytic model uses SD1's.</summary>
    public static (double Norm, double Cosine) PublishedWeights(ModelFamily family) => family switch
    {
        ModelFamily.SD2 => (1.0, 0.1),
        ModelFamily.RV => (2.0, 1.0),
        _ => (1.0, 2.0),
    };

    public (double Norm, double Cosine) Weights(ModelFamily family)
    {
        var (n, c) = PublishedWeights(family);
        return (NormWeight ?? n, CosineWeight ?? c);
    }

    public (int Norm, int Cosine) Timesteps(IDiffusionModelView model)
    {
        var ts = DetectorSchedule.Timesteps(model, Method, Steps);
        return (ts[StepIndex.Resolve(NormStepIndex, ts.Length, "norm")], ts[StepIndex.Resolve(CosineStepIndex, ts.Length, "cosine")]);
    }

    /// <summary>The factor on ‖Δ raw output‖ for the code-faithful v-branch: √ᾱ/σ² at t_N (0.076438 at 981).</summary>
    public static double CodeNormFactor(IDiffusionModelView model, int t)
    {
        double a = model.Scheduler.Schedule.AlphaBar(t);
        return Math.Sqrt(a) / (1 - a);
    }

    bool UseRawCodePath(IDiffusionModelView model) => Scaling == ScoreScaling.Code && model.Family.UsesVBranch();

    public JsonObject Parameters(IDiffusionModelView model)
    {
        var (tn, tc) = Timesteps(model);
        var (g1, g2) = Weights(model.Family);
        return new JsonObject
        {
            ["t_norm"] = tn, ["t_cosine"] = tc, ["steps"] = Steps,
            ["mode"] = ModeName(Mode), ["gamma_norm"] = g1, ["gamma_cosine"] = g2,
            ["family"] = model.Family.Name(), ["scaling"] = Scaling == ScoreScaling.Code ? "code" : "epsilon",
            ["bf16"] = RoundToBf16,
        };
    }

    public static string ModeName(AnisotropyMode mode) => mode switch
    {
        AnisotropyMode.CondVsUncond => "x,x|c",
        AnisotropyMode.CondVsGuidance => "x|c,c|x",
        _ => "x,c|x",
    };

    public static AnisotropyMode ParseMode(string text) => text.Trim() switch
    {
        "x,c|x" or "uncond-guidance" => AnisotropyMode.UncondVsGuidance,
        "x,x|c" or "cond-uncond" => AnisotropyMode.CondVsUncond,
        "x|c,c|x" or "cond-guidance" => AnisotropyMode.CondVsGuidance,
        _ => throw new ArgumentException($"unknown anisotropy mode '{text}' (use \"x,c|x\", \"x,x|c\" or \"x|c,c|x\")"),
    };

    public IReadOnlyList<IReadOnlyDictionary<string, double>> Score(IDiffusionModelView model, PromptBatch batch)
    {
        ArgumentNullException.ThrowIfNull(model); ArgumentNullException.ThrowIfNull(batch);
        var (tn, tc) = Timesteps(model);
        var (g1, g2) = Weights(model.Family);
        bool raw = UseRawCodePath(model);
        double[] norms, cosines;
        using (GradMode.NoGrad())
        using (var scope = TensorScope.Enter())
        {
            var x = batch.StackedLatents();
            var (u, c) = batch.CfgOutputs(model, x, tn, batch.SharedLatents);
            if (raw) norms = Reduce.RowNorms(c - u).Select(v => v * CodeNormFactor(model, tn)).ToArray();
            else norms = Reduce.RowNorms(model.Scheduler.Epsilon(c, x, tn) - model.Scheduler.Epsilon(u, x, tn));

            (u, c) = batch.CfgOutputs(model, x, tc, batch.SharedLatents);
            if (!raw && Scaling == ScoreScaling.Epsilon) (u, c) = (model.Scheduler.Epsilon(u, x, tc), model.Scheduler.Epsilon(c, x, tc));
            cosines = Mode switch
            {
                AnisotropyMode.CondVsUncond => Reduce.MeanChannelCosine(c, u),
                AnisotropyMode.CondVsGuidance => Reduce.MeanChannelCosine(c, c - u),
                _ => Reduce.MeanChannelCosine(u, c - u),
            };
        }
        var n = Reduce.GroupMeans(norms, batch.Generations);
        var cos = Reduce.GroupMeans(cosines, batch.Generations);
        var result = new IReadOnlyDictionary<string, double>[batch.Count];
        for (int p = 0; p < batch.Count; p++)
        {
            double np = RoundToBf16 ? Evaluation.BFloat16.Round(n[p]) : n[p], cp = RoundToBf16 ? Evaluation.BFloat16.Round(cos[p]) : cos[p];
            result[p] = new Dictionary<string, double> { ["anisotropy"] = g1 * np + g2 * cp, ["anisotropy_norm"] = np, ["anisotropy_cosine"] = cp };
        }
        return result;
    }
}

static class StepIndex
{
    /// <summary>A Python-style index into <paramref name="length"/> timesteps (−1 is the last).</summary>
    public static int Resolve(int index, int length, string what)
    {
        int i = index < 0 ? length + index : index;
        if (i < 0 || i >= length) throw new ArgumentException($"{what} step index {index} is outside the {length} inference steps");
        return i;
    }
}
