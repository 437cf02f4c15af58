using System.Text.Json.Nodes;
using Deja.Memorization.Models;
using Deja.Tensors;

namespace Deja.Memorization.Detection;

/// <summary>How the Jacobian-vector product of the sharpness detector is computed.</summary>
public enum JvpMethod
{
    /// <summary>Central finite differences [f(x + h·v̂) − f(x − h·v̂)]·‖v‖/(2h): two extra forward calls, any model.</summary>
    FiniteDifference,
    /// <summary>Double backward J·v = ∇_u⟨∇_x⟨f(x), u⟩, v⟩ through our autograd: exact, needs a twice-differentiable model.</summary>
    Autograd,
}

/// <summary>
/// Jeon et al. (ICML'25) sharpness detection, METHODS.md §2.1: at t = timesteps[0] on pure noise,
/// M_j = ‖(H_c − H_u)·Δs‖₂ with H = ∂s/∂x the Hessian of log p_t and Δs = s_c − s_u; per prompt the
/// mean over the n generations. With s = −ε/σ this is ‖(J_c − J_u)·Δε‖/σ² (J = ∂ε/∂x), which is how it
/// is computed. For v-models the correct value is used unless <see cref="Scaling"/> is Code, which
/// multiplies by the extra 1/σ² of the reference code's wrong SD2 score (1.0058 at t = 981; AUC-neutral).
/// </summary>
public sealed class SharpnessDetector : IMemorizationDetector
{
    public string Method => "sharpness";
    public IReadOnlyList<string> ScoreNames { get; } = ["sharpness"];
    public int ModelCallsPerBatch => Jvp == JvpMethod.FiniteDifference ? 3 : 1;

    public int Steps { get; init; } = 50;
    public int StepIndex { get; init; } = 0;
    public JvpMethod Jvp { get; init; } = JvpMethod.FiniteDifference;
    /// <summary>Finite-difference step along the unit direction, in latent units (fp32: 1e-2 keeps rounding ≪ curvature error).</summary>
    public double Step { get; init; } = 1e-2;
    public ScoreScaling Scaling { get; init; } = ScoreScaling.Epsilon;
    public bool RoundToBf16 { get; init; }

    public int Timestep(IDiffusionModelView model)
    {
        var ts = DetectorSchedule.Timesteps(model, Method, Steps);
        return ts[Detection.StepIndex.Resolve(StepIndex, ts.Length, "sharpness")];
    }

    public JsonObject Parameters(IDiffusionModelView model) => new()
    {
        ["t"] = Timestep(model), ["steps"] = Steps,
        ["jvp"] = Jvp == JvpMethod.FiniteDifference ? "fd" : "autograd",
        ["fd_step"] = Jvp == JvpMethod.FiniteDifference ? Step : null,
        ["scaling"] = Scaling == ScoreScaling.Code ? "code" : "epsilon",
        ["bf16"] = RoundToBf16,
    };

    /// <summary>1/σ² (and the code's extra 1/σ² for v-branch models under Code scaling).</summary>
    double Factor(IDiffusionModelView model, int t)
    {
        double s2 = 1 - model.Scheduler.Schedule.AlphaBar(t);
        bool codeV = Scaling == ScoreScaling.Code && model.Family.UsesVBranch();
        return codeV ? 1 / (s2 * s2) : 1 / s2;
    }

    public IReadOnlyList<IReadOnlyDictionary<string, double>> Score(IDiffusionModelView model, PromptBatch batch)
    {
        ArgumentNullException.ThrowIfNull(model); ArgumentNullException.ThrowIfNull(batch);
        if (Jvp == JvpMethod.FiniteDifference && !(Step > 0)) throw new ArgumentException($"sharpness: the finite-difference step must be positive, got {Step}");
        int t = Timestep(model);
        double[] norms;
        try { norms = Jvp == JvpMethod.FiniteDifference ? FiniteDifference(model, batch, t) : DoubleBackward(model, batch, t); }
        catch (NotSupportedException e)
        {
            throw new ArgumentException($"sharpness: the autograd JVP needs a twice-differentiable model and {model.Name} is not: {e.Message} (--jvp fd)", e);
        }
        double factor = Factor(model, t);
        var means = Reduce.GroupMeans(norms, batch.Generations);
        return means.Select(m =>
        {
            double v = m * factor;
            return (IReadOnlyDictionary<string, double>)new Dictionary<string, double> { ["sharpness"] = RoundToBf16 ? Evaluation.BFloat16.Round(v) : v };
        }).ToArray();
    }

    /// <summary>‖(J_c − J_u)·Δε‖ per row by central differences along Δε/‖Δε‖ (three model calls).</summary>
    double[] FiniteDifference(IDiffusionModelView model, PromptBatch batch, int t)
    {
        using var _ = GradMode.NoGrad();
        using var scope = TensorScope.Enter();
        var x = batch.StackedLatents();
        var (u, c) = batch.CfgOutputs(model, x, t, batch.SharedLatents);
        var delta = model.Scheduler.Epsilon(c, x, t) - model.Scheduler.Epsilon(u, x, t);
        var lengths = Reduce.RowNorms(delta);
        int rows = x.Shape[0], size = x.Length / rows;
        // direction·h per row, so that x ± h·v̂ moves every row by h whatever ‖Δε‖ is
        var stepped = Tensor.Empty(delta.Shape);
        var ds = delta.ReadOnlySpan; var ss = stepped.Span;
        for (int r = 0; r < rows; r++)
        {
            float scale = lengths[r] > 0 ? (float)(Step / lengths[r]) : 0f;
            for (int i = r * size; i < (r + 1) * size; i++) ss[i] = ds[i] * scale;
        }
        var jvpDiff = JvpDifferenceAt(model, batch, x + stepped, t) - JvpDifferenceAt(model, batch, x - stepped, t);
        var result = Reduce.RowNorms(jvpDiff);
        for (int r = 0; r < rows; r++) result[r] *= lengths[r] / (2 * Step);
        return result;
    }

    /// <summary>ε_c(y) − ε_u(y) for latents y (one model call of 2·P·n rows; no sharing, y differs per prompt).</summary>
    static Tensor JvpDifferenceAt(IDiffusionModelView model, PromptBatch batch, Tensor y, int t)
    {
        var (u, c) = batch.CfgOutputs(model, y, t, shareUnconditional: false);
        return model.Scheduler.Epsilon(c, y, t) - model.Scheduler.Epsilon(u, y, t);
    }

    /// <summary>‖(J_c − J_u)·Δε‖ per row by double backward through the model (one forward with a graph).</summary>
    static double[] DoubleBackward(IDiffusionModelView model, PromptBatch batch, int t)
    {
        using var scope = TensorScope.Enter();
        using var grad = GradMode.Set(true);
        Tensor x;
        using (GradMode.NoGrad()) x = batch.StackedLatents().Detach();
        int rows = x.Shape[0];
        var both = Ops.Concat([x, x], 0).Detach();
        both.RequiresGrad = true;
        var conditions = Ops.Concat([batch.RepeatedNull(rows), batch.RepeatedConditions()], 0);
        var eps = model.Scheduler.Epsilon(model.Forward(both, t, conditions), both, t);
        Tensor tangent;
        using (GradMode.NoGrad())
        {
            var delta = Ops.Narrow(eps, 0, rows, rows) - Ops.Narrow(eps, 0, 0, rows);
            tangent = Ops.Concat([delta, delta], 0).Detach();
        }
        var probe = Tensor.Zeros(eps.Shape);
        probe.RequiresGrad = true;
        var vjp = Autograd.Grad(eps, both, probe, createGraph: true)
            ?? throw new InvalidOperationException("sharpness: the model output does not depend on the latents");
        var jvp = Autograd.Grad(vjp, probe, tangent)
            ?? throw new InvalidOperationException("sharpness: the double backward produced no Jacobian-vector product");
        using (GradMode.NoGrad())
            return Reduce.RowNorms(Ops.Narrow(jvp, 0, rows, rows) - Ops.Narrow(jvp, 0, 0, rows));
    }
}
