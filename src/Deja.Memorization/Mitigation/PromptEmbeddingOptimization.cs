using System.Text.Json.Nodes;
using Deja.Memorization.Detection;
using Deja.Memorization.Models;
using Deja.Tensors;
using Deja.Tensors.Optim;

namespace Deja.Memorization.Mitigation;

/// <summary>
/// Wen et al. (ICLR'24) inference-time mitigation, METHODS.md §1.3: optimize the conditional
/// text-encoder output e (initialised to e_c) so that the text-conditional noise prediction on the very
/// initial noise x_T that generation will use shrinks,
///   L(e) = ‖ε̂(x_T, t₀, e) − ε̂(x_T, t₀, e_∅)‖_F over all n images jointly, t₀ = timesteps[0] (981 for 50 steps),
/// with AdamW (lr 0.05, β 0.9/0.999, eps 1e-8, weight decay 0.01 — decoupled decay reaches every
/// position, BOS and padding included), at most 10 iterations, the BOS row's gradient zeroed. Iteration j
/// evaluates L first and stops before updating when L ≤ the target (W's README: 3 for SD1 at n = 4,
/// a norm over the n images jointly, so tied to n); after the last update L is not evaluated again,
/// as in the reference. The optional ε-ball (off by default): with d₂ = mean over positions 1… of
/// ‖e[p] − e_c[p]‖₂, the optimized loss becomes α·L + (1 − α)·d₂ while d₂ > ε; the target is always
/// compared with L, the memorization signal. For v-models ε̂ is the ε converted from v (§0.3).
/// Also the optimizer of Asthana's reconstructed prompt adaptation (§3.2 b), which swaps the loss.
/// </summary>
public sealed class PromptEmbeddingOptimization
{
    public double LearningRate { get; init; } = 0.05;
    public double WeightDecay { get; init; } = 0.01;
    public int Iterations { get; init; } = 10;
    /// <summary>Stop (before updating) once L ≤ this; null: always take <see cref="Iterations"/> updates.</summary>
    public double? TargetLoss { get; init; }
    /// <summary>W's optim_epsilon: the ε-ball radius on the mean per-position distance to e_c (null: off).</summary>
    public double? EpsilonBall { get; init; }
    /// <summary>W's alpha: the weight of L against the distance once outside the ε-ball.</summary>
    public double Alpha { get; init; } = 0.5;
    /// <summary>The schedule's length; the loss is taken at timesteps[<see cref="TargetStep"/>].</summary>
    public int Steps { get; init; } = 50;
    public int TargetStep { get; init; }

    public void Validate()
    {
        if (!(LearningRate > 0) || !double.IsFinite(LearningRate)) throw new DejaException($"mitigate: the learning rate must be a positive number, got {LearningRate}");
        if (!(WeightDecay >= 0) || !double.IsFinite(WeightDecay)) throw new DejaException($"mitigate: the weight decay must be ≥ 0, got {WeightDecay}");
        if (Iterations < 1) throw new DejaException($"mitigate: --iterations must be at least 1, got {Iterations}");
        if (TargetLoss is { } t && (!double.IsFinite(t) || t < 0)) throw new DejaException($"mitigate: --target-loss must be a finite number ≥ 0, got {t}");
        if (EpsilonBall is { } e && (!double.IsFinite(e) || e < 0)) throw new DejaException($"mitigate: --epsilon-ball must be a finite number ≥ 0, got {e}");
        if (!(Alpha >= 0 && Alpha <= 1)) throw new DejaException($"mitigate: --alpha must be in [0, 1], got {Alpha}");
        if (Steps < 1 || TargetStep < 0 || TargetStep >= Steps) throw new DejaException($"mitigate: the loss step {TargetStep} must lie in [0, {Steps})");
    }

    public JsonObject Parameters(IDiffusionModelView model)
    {
        Validate();
        return new()
        {
            ["lr"] = LearningRate, ["weight_decay"] = WeightDecay, ["iterations"] = Iterations,
            ["target_loss"] = TargetLoss, ["epsilon_ball"] = EpsilonBall, ["alpha"] = Alpha,
            ["loss_timestep"] = DetectorSchedule.Timesteps(model, "mitigate", Steps)[TargetStep],
        };
    }

    /// <summary>
    /// The optimized embedding [1, L, H] for <paramref name="condition"/> [1, L, H] on the latents
    /// [n, C, h, w] that generation will start from; <paramref name="loss"/> replaces W's L (null: W's loss).
    /// </summary>
    public PromptOptimizationResult Optimize(IDiffusionModelView model, Tensor condition, Tensor nullCondition, Tensor latents,
        EmbeddingLoss? loss = null)
    {
        ArgumentNullException.ThrowIfNull(model); ArgumentNullException.ThrowIfNull(condition);
        ArgumentNullException.ThrowIfNull(nullCondition); ArgumentNullException.ThrowIfNull(latents);
        Validate();
        if (condition.Rank < 2 || condition.Shape[0] != 1)
            throw new ArgumentException($"mitigate: the condition must be one prompt [1, positions, ...], got {Shapes.Str(condition.Shape)}");
        int t = DetectorSchedule.Timesteps(model, "mitigate", Steps)[TargetStep];
        using var own = loss is null ? new NoiseDifferenceLoss(model, nullCondition, latents, t) : null;
        loss ??= own!;

        Tensor e, original;
        using (GradMode.NoGrad())
        {
            e = condition * 1f; // a leaf of its own: the caller's condition stays as it was
            original = condition * 1f;
        }
        TensorScope.Untrack(e); TensorScope.Untrack(original);
        e.RequiresGrad = true;
        var optimizer = new AdamW([("prompt_embeds", e)], LearningRate, 0.9, 0.999, 1e-8, WeightDecay);
        var losses = new List<double>();
        bool reached = false;
        try
        {
            for (int j = 0; j < Iterations; j++)
            {
                using var scope = TensorScope.Enter();
                using var grad = GradMode.Set(true);
                var l = loss.Evaluate(e);
                double value = l.Item();
                if (!double.IsFinite(value))
                    throw new DejaException($"mitigate: the loss is {value} at iteration {j} (a NaN or infinite model output); nothing was generated for this prompt");
                losses.Add(value);
                if (TargetLoss is { } target && value <= target) { reached = true; break; }
                var objective = EpsilonBall is { } radius ? WithBall(l, e, original, radius) : l;
                var g = Autograd.Grad(objective, e)
                    ?? throw new InvalidOperationException("mitigate: the loss does not depend on the prompt embedding");
                ZeroFirstRow(g); // the BOS position's gradient, as W's code (its decay still applies)
                e.Grad = g;
                optimizer.Step();
                e.Grad = null;
                g.Dispose();
            }
            Tensor result;
            using (GradMode.NoGrad()) result = e * 1f;
            return new PromptOptimizationResult(result, losses, reached);
        }
        finally
        {
            e.Dispose();
            original.Dispose();
        }
    }

    /// <summary>α·L + (1 − α)·d₂ while the mean per-position distance d₂ (positions 1…) exceeds the radius, else L.</summary>
    Tensor WithBall(Tensor l, Tensor e, Tensor original, double radius)
    {
        int positions = e.Shape[1];
        var moved = Ops.Narrow(e - original, 1, 1, positions - 1);
        var d2 = Ops.Mean(Ops.Norm(moved, [.. Enumerable.Range(2, e.Rank - 2)]));
        return d2.Item() > radius ? l * (float)Alpha + d2 * (float)(1 - Alpha) : l;
    }

    static void ZeroFirstRow(Tensor g)
    {
        int width = g.Length / g.Shape[1];
        g.Span[..width].Clear();
    }
}

/// <summary>The optimized embedding [1, L, H], L before each update (and before the stop), and whether the target was met.</summary>
public sealed record PromptOptimizationResult(Tensor Embedding, IReadOnlyList<double> Losses, bool ReachedTarget) : IDisposable
{
    /// <summary>AdamW updates taken: one per evaluated loss, except the one that met the target.</summary>
    public int Updates => ReachedTarget ? Losses.Count - 1 : Losses.Count;

    public void Dispose() => Embedding.Dispose();
}

/// <summary>A differentiable loss of the prompt embedding e [1, L, H] (a scalar tensor).</summary>
public abstract class EmbeddingLoss : IDisposable
{
    public abstract Tensor Evaluate(Tensor embedding);

    /// <summary>Frees what the loss precomputed (constant terms).</summary>
    public virtual void Dispose() { }
}

/// <summary>W's L(e) = ‖ε̂(x_T, t, e) − ε̂(x_T, t, e_∅)‖_F over the n latents jointly; ε̂(·, e_∅) is computed once.</summary>
public sealed class NoiseDifferenceLoss : EmbeddingLoss
{
    readonly IDiffusionModelView model;
    readonly Tensor latents, epsUncond;
    readonly int t;

    public NoiseDifferenceLoss(IDiffusionModelView model, Tensor nullCondition, Tensor latents, int t)
    {
        if (latents.Rank != 4) throw new ArgumentException($"mitigate: latents must be [n, C, H, W], got {Shapes.Str(latents.Shape)}");
        (this.model, this.latents, this.t) = (model, latents, t);
        using var _ = GradMode.NoGrad();
        using var nulls = PromptBatch.RepeatRows(nullCondition, latents.Shape[0]);
        var raw = model.Forward(latents, t, nulls);
        epsUncond = model.Scheduler.Epsilon(raw, latents, t); // raw itself for an ε-model
        if (!ReferenceEquals(epsUncond, raw)) raw.Dispose();
        TensorScope.Untrack(epsUncond);
    }

    public override Tensor Evaluate(Tensor embedding)
    {
        int n = latents.Shape[0];
        // differentiable repetition (RepeatRows detaches a single row)
        var rows = n == 1 ? embedding : Ops.Concat([.. Enumerable.Repeat(embedding, n)], 0);
        Tensor x;
        using (GradMode.NoGrad()) x = latents * 1f; // the graph's own copy of the constant latents
        var epsC = model.Scheduler.Epsilon(model.Forward(x, t, rows), x, t);
        return Ops.Norm(epsC - epsUncond);
    }

    public override void Dispose() => epsUncond.Dispose();
}
