using System.Text.Json.Nodes;
using Deja.Memorization.Detection;
using Deja.Memorization.Models;
using Deja.Tensors;

namespace Deja.Memorization.Explanation;

/// <summary>
/// Wen et al. (ICLR'24) token-wise significance, METHODS.md §1.2: which positions of the text-encoder
/// output drive the text-conditional noise prediction. For each selected step t_i of the CFG/DDIM
/// trajectory from pure noise, with the n latents x_{t_i} of the prompt,
///   ℓ_i(e_c) = ‖ε̂(x_{t_i}, t_i, e_c) − ε̂(x_{t_i}, t_i, e_∅)‖_F over the whole n-image batch,
///   g_i[p] = ‖∂ℓ_i/∂e_c[p, :]‖₂,  G[p] = mean over the selected steps of g_i[p],
/// with e_∅ held constant and the gradient taken with respect to the text-encoder output e_c, not the
/// token embeddings. Defaults: the first step only (pure noise, t = timesteps[0]), where the reference
/// code's quirks have no effect. Differences from the reference code (METHODS.md §6, Wen 1): its vector is
/// 0.5·G (the gradient of a stacked [∅; c] tensor averaged over two rows, one of them zero) — dropped
/// here; and its trajectory uses swapped guidance ε_c + w(ε_u − ε_c) — the correct CFG trajectory is
/// the default, <see cref="SwappedGuidance"/> reproduces the reference's. For v-models ε̂ is the
/// ε converted from v (METHODS.md §0.3).
/// </summary>
public sealed class TokenSignificance
{
    public int Steps { get; init; } = 50;
    /// <summary>The first trajectory step whose gradient is averaged (0 = pure noise).</summary>
    public int Start { get; init; } = 0;
    /// <summary>One past the last averaged step.</summary>
    public int End { get; init; } = 1;
    public double Guidance { get; init; } = 7.5;
    /// <summary>Follow the reference code's trajectory ε_c + w(ε_u − ε_c) instead of the correct one.</summary>
    public bool SwappedGuidance { get; init; }

    public void Validate()
    {
        if (Steps < 1) throw new DejaException($"explain: --steps must be at least 1, got {Steps}");
        if (Start < 0 || End <= Start || End > Steps)
            throw new DejaException($"explain: the step window [{Start}, {End}) must satisfy 0 ≤ start < end ≤ steps ({Steps})");
        if (!double.IsFinite(Guidance) || Guidance < 0)
            throw new DejaException($"explain: --guidance must be a finite number ≥ 0, got {Guidance}");
    }

    public JsonObject Parameters(IDiffusionModelView model)
    {
        Validate();
        return new()
        {
            ["steps"] = Steps, ["start"] = Start, ["end"] = End, ["guidance"] = Guidance,
            ["swapped_guidance"] = SwappedGuidance,
            ["first_timestep"] = DetectorSchedule.Timesteps(model, "explain", Steps)[Start],
        };
    }

    /// <summary>
    /// G for every prompt of the batch: [P][positions], one value per position of the condition's second
    /// axis (77 text-encoder positions for Stable Diffusion). The prompts' losses are independent (no
    /// operation mixes batch rows), so one backward of Σ_p ℓ_p gives each prompt its own gradient.
    /// </summary>
    public double[][] Compute(IDiffusionModelView model, PromptBatch batch)
    {
        ArgumentNullException.ThrowIfNull(model); ArgumentNullException.ThrowIfNull(batch);
        Validate();
        // the analytic model's conditions are mixture weights (differentiable, for mitigation's checks):
        // they have no token positions to attribute to
        if (model.Family == ModelFamily.Analytic)
            throw new DejaException($"explain: {model.Name} has no tokens: its conditions are mixture weights, not text-encoder states; token significance needs a Stable Diffusion pipeline");
        if (batch.Conditions.Rank < 2)
            throw new ArgumentException($"explain: conditions must be [P, positions, ...], got {Shapes.Str(batch.Conditions.Shape)}");
        var timesteps = DetectorSchedule.Timesteps(model, "explain", Steps);
        int prompts = batch.Count, n = batch.Generations, rows = prompts * n, positions = batch.Conditions.Shape[1];
        var sums = new double[prompts][];
        for (int p = 0; p < prompts; p++) sums[p] = new double[positions];

        Tensor x;
        using (GradMode.NoGrad()) x = batch.StackedLatents().Detach();
        try
        {
            for (int k = 0; k < End; k++)
            {
                int t = timesteps[k];
                using var scope = TensorScope.Enter();
                Tensor u, c;
                if (k >= Start)
                {
                    (u, c) = GradientStep(model, batch, x, t, sums);
                }
                else
                {
                    using var _ = GradMode.NoGrad();
                    (u, c) = batch.CfgOutputs(model, x, t, shareUnconditional: false);
                }
                if (k + 1 < End)
                {
                    using var _ = GradMode.NoGrad();
                    var guided = SwappedGuidance ? c + (u - c) * (float)Guidance : u + (c - u) * (float)Guidance;
                    var next = model.Scheduler.Step(guided, t, x, Steps).PrevSample;
                    scope.Keep(next);
                    x.Dispose();
                    x = next;
                }
            }
        }
        finally { x.Dispose(); }

        foreach (var s in sums)
            for (int p = 0; p < positions; p++) s[p] /= End - Start;
        return sums;
    }

    /// <summary>
    /// One step's g_i, added into <paramref name="sums"/>: the conditional pass with a graph back to the
    /// conditions, the unconditional one without, and one backward seeded with ∂ℓ_p/∂ε_c = D_p/‖D_p‖.
    /// Returns the raw outputs (detached) for the trajectory.
    /// </summary>
    static (Tensor Uncond, Tensor Cond) GradientStep(IDiffusionModelView model, PromptBatch batch, Tensor x, int t, double[][] sums)
    {
        int prompts = batch.Count, n = batch.Generations, rows = prompts * n;
        Tensor u;
        using (GradMode.NoGrad()) u = model.Forward(x, t, batch.RepeatedNull(rows));
        using var grad = GradMode.Set(true);
        var leaf = batch.Conditions.Detach();
        leaf.RequiresGrad = true;
        // differentiable: the leaf itself, or narrows and a concat of it (RepeatRows detaches for n = 1)
        var repeated = n == 1 ? leaf : PromptBatch.RepeatRows(leaf, n);
        // The graph gets its own copy of the latents: freeing it after the backward releases what its
        // nodes saved (x itself, for a v-model's ε = √ᾱ·v + σ·x), and x must live on for the trajectory.
        Tensor xg;
        using (GradMode.NoGrad()) xg = x * 1f;
        var c = model.Forward(xg, t, repeated);
        if (!c.RequiresGrad)
            throw new DejaException($"explain: the output of {model.Name} is not differentiable with respect to its conditions; token significance needs a Stable Diffusion pipeline");
        var epsC = model.Scheduler.Epsilon(c, xg, t);
        Tensor seed;
        using (GradMode.NoGrad())
        {
            var diff = epsC.Detach() - model.Scheduler.Epsilon(u, x, t);
            seed = NormalizedPerPrompt(diff, prompts);
        }
        var g = Autograd.Grad(epsC, leaf, seed)
            ?? throw new InvalidOperationException("explain: the model output does not depend on the text conditions");
        int positions = leaf.Shape[1], width = leaf.Length / (prompts * positions);
        var gs = g.ReadOnlySpan;
        for (int p = 0; p < prompts; p++)
            for (int pos = 0; pos < positions; pos++)
            {
                double s2 = 0;
                foreach (var v in gs.Slice((p * positions + pos) * width, width)) s2 += (double)v * v;
                sums[p][pos] += Math.Sqrt(s2);
            }
        using (GradMode.NoGrad()) return (u, c.Detach());
    }

    /// <summary>D_p/‖D_p‖_F for each prompt's block of n rows (0 where D_p = 0: ℓ has no gradient there).</summary>
    static Tensor NormalizedPerPrompt(Tensor diff, int prompts)
    {
        var values = diff.ToArray();
        int block = values.Length / prompts;
        for (int p = 0; p < prompts; p++)
        {
            var span = values.AsSpan(p * block, block);
            double s2 = 0;
            foreach (var v in span) s2 += (double)v * v;
            float inv = s2 > 0 ? (float)(1 / Math.Sqrt(s2)) : 0f;
            foreach (ref var v in span) v *= inv;
        }
        return Tensor.FromArray(values, diff.Shape);
    }

    /// <summary>ℓ = ‖ε̂(x, t, e_c) − ε̂(x, t, e_∅)‖_F over one prompt's n rows (for checks and finite differences).</summary>
    public static double Loss(IDiffusionModelView model, Tensor latents, int t, Tensor condition, Tensor nullCondition)
    {
        using var _ = GradMode.NoGrad();
        int n = latents.Shape[0];
        using var c = model.Forward(latents, t, PromptBatch.RepeatRows(condition, n));
        using var u = model.Forward(latents, t, PromptBatch.RepeatRows(nullCondition, n));
        using var d = model.Scheduler.Epsilon(c, latents, t) - model.Scheduler.Epsilon(u, latents, t);
        double s2 = 0;
        foreach (var v in d.ReadOnlySpan) s2 += (double)v * v;
        return Math.Sqrt(s2);
    }
}
