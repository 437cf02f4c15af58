using Deja.Memorization.Detection;
using Deja.Memorization.Models;
using Deja.Tensors;

namespace Deja.Memorization.Mitigation;

/// <summary>
/// The loss of Asthana's prompt adaptation as the paper describes it (METHODS.md §3.2 b; a
/// reconstruction: A's published code runs SAIL): the detector's own score, made differentiable in the
/// prompt embedding e, on the generation's pure noise x_T,
///   L(e) = γ₁·N(e) + γ₂·C(e),  N = mean_j ‖ε̂_c − ε̂_∅‖ at t_N (981),
///   C = mean over images and pixels of cos(u, c − u) along the channels at t_C (41), on the same x_T,
/// with everything — γ, timesteps, the code-faithful v-branch factor and raw-v cosine — taken from the
/// <see cref="AnisotropyDetector"/> given, so L(e_c) is exactly the detector's score of the prompt
/// (tested). Only the default cosine mode ("x,c|x") is supported. The unconditional outputs are
/// computed once; each evaluation is two conditional model calls on the n latents.
/// </summary>
public sealed class AnisotropyLoss : EmbeddingLoss
{
    readonly IDiffusionModelView model;
    readonly Tensor latents, uNorm, uCosine;
    readonly int tn, tc;
    readonly double g1, g2, normFactor;
    readonly bool raw, epsilonCosine;

    public AnisotropyLoss(IDiffusionModelView model, AnisotropyDetector detector, Tensor nullCondition, Tensor latents)
    {
        ArgumentNullException.ThrowIfNull(model); ArgumentNullException.ThrowIfNull(detector);
        if (detector.Mode != AnisotropyMode.UncondVsGuidance)
            throw new DejaException($"mitigate: prompt-anisotropy supports the default cosine mode \"x,c|x\" only, not \"{AnisotropyDetector.ModeName(detector.Mode)}\"");
        (this.model, this.latents) = (model, latents);
        (tn, tc) = detector.Timesteps(model);
        (g1, g2) = detector.Weights(model.Family);
        raw = detector.Scaling == ScoreScaling.Code && model.Family.UsesVBranch();
        epsilonCosine = !raw && detector.Scaling == ScoreScaling.Epsilon;
        normFactor = raw ? AnisotropyDetector.CodeNormFactor(model, tn) : 1;
        using var _ = GradMode.NoGrad();
        using var nulls = PromptBatch.RepeatRows(nullCondition, latents.Shape[0]);
        uNorm = NormSide(model.Forward(latents, tn, nulls));
        uCosine = CosineSide(model.Forward(latents, tc, nulls));
        TensorScope.Untrack(uNorm); TensorScope.Untrack(uCosine);
    }

    /// <summary>What the norm term compares: raw outputs on the code's v-branch, else ε.</summary>
    Tensor NormSide(Tensor output) => raw ? output : model.Scheduler.Epsilon(output, latents, tn);

    /// <summary>What the cosine compares: raw outputs (ε for ε-models, v̂ code-faithfully), or ε with --scaling epsilon.</summary>
    Tensor CosineSide(Tensor output) => epsilonCosine ? model.Scheduler.Epsilon(output, latents, tc) : output;

    public override Tensor Evaluate(Tensor embedding)
    {
        int n = latents.Shape[0];
        var rows = n == 1 ? embedding : Ops.Concat([.. Enumerable.Repeat(embedding, n)], 0);
        Tensor x;
        using (GradMode.NoGrad()) x = latents * 1f;
        var cNorm = raw ? model.Forward(x, tn, rows) : model.Scheduler.Epsilon(model.Forward(x, tn, rows), x, tn);
        var norms = Ops.Norm(cNorm - uNorm, [1, 2, 3]);                     // [n]
        var normTerm = Ops.Mean(norms) * (float)normFactor;
        var cOut = model.Forward(x, tc, rows);
        var c = epsilonCosine ? model.Scheduler.Epsilon(cOut, x, tc) : cOut;
        var guidance = c - uCosine;
        var dot = Ops.Sum(uCosine * guidance, [1]);                         // [n, H, W]
        var lengths = Ops.Norm(uCosine, [1]) * Ops.Norm(guidance, [1]);
        var cosine = Ops.Mean(dot / Ops.Clamp(lengths, 1e-8f, float.MaxValue));
        return normTerm * (float)g1 + cosine * (float)g2;
    }

    public override void Dispose()
    {
        uNorm.Dispose();
        uCosine.Dispose();
    }
}
