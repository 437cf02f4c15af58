using System.Text.Json.Nodes;
using Deja.Memorization.Models;
using Deja.Tensors;

namespace Deja.Memorization.Detection;

/// <summary>
/// Wen et al. (ICLR'24) magnitude detection, METHODS.md §1.1: along the ordinary CFG/DDIM sampling
/// trajectory from pure noise, m_{j,k} = ‖ε_c − ε_u‖₂ over one image at step k; the score is the mean
/// over steps k ∈ [start, end) of the mean over the n generations. The default window [0, 1) is the
/// first-step detector on pure noise (one model call); the notebook's setting is [0, 50) with n = 4.
/// ε units without σ scaling; for v-models Δε = √ᾱ·Δv (the reference code only ran ε-models).
/// </summary>
public sealed class MagnitudeDetector : IMemorizationDetector
{
    public string Method => "magnitude";
    public IReadOnlyList<string> ScoreNames { get; } = ["magnitude"];
    public int ModelCallsPerBatch => End;

    public int Steps { get; init; } = 50;
    public int Start { get; init; } = 0;
    public int End { get; init; } = 1;
    public double Guidance { get; init; } = 7.5;

    void Validate()
    {
        if (Steps < 1) throw new ArgumentException($"magnitude: steps must be at least 1, got {Steps}");
        if (Start < 0 || End <= Start || End > Steps)
            throw new ArgumentException($"magnitude: the step window [{Start}, {End}) must satisfy 0 ≤ start < end ≤ steps ({Steps})");
        // The same rule as generate's --guidance: a negative scale inverts the guidance, NaN poisons every score.
        if (!double.IsFinite(Guidance) || Guidance < 0)
            throw new DejaException($"magnitude: --guidance must be a finite number ≥ 0, got {Guidance}");
    }

    public JsonObject Parameters(IDiffusionModelView model)
    {
        Validate();
        return new()
        {
            ["steps"] = Steps, ["start"] = Start, ["end"] = End, ["guidance"] = Guidance,
            ["first_timestep"] = DetectorSchedule.Timesteps(model, Method, Steps)[Start],
        };
    }

    public IReadOnlyList<IReadOnlyDictionary<string, double>> Score(IDiffusionModelView model, PromptBatch batch)
    {
        ArgumentNullException.ThrowIfNull(model); ArgumentNullException.ThrowIfNull(batch);
        Validate();
        var timesteps = DetectorSchedule.Timesteps(model, Method, Steps);
        var sums = new double[batch.Count * batch.Generations];
        using (GradMode.NoGrad())
        {
            var x = batch.StackedLatents();
            try
            {
                for (int k = 0; k < End; k++)
                {
                    int t = timesteps[k];
                    using var scope = TensorScope.Enter();
                    // Only the first step has every prompt on the same latents.
                    var (u, c) = batch.CfgOutputs(model, x, t, shareUnconditional: k == 0 && batch.SharedLatents);
                    if (k >= Start)
                    {
                        var norms = Reduce.RowNorms(model.Scheduler.Epsilon(c, x, t) - model.Scheduler.Epsilon(u, x, t));
                        for (int i = 0; i < sums.Length; i++) sums[i] += norms[i];
                    }
                    if (k + 1 < End)
                    {
                        var guided = u + (c - u) * (float)Guidance;
                        var next = model.Scheduler.Step(guided, t, x, Steps).PrevSample;
                        scope.Keep(next);
                        x.Dispose();
                        x = next;
                    }
                }
            }
            finally { x.Dispose(); }
        }
        var means = Reduce.GroupMeans(sums, batch.Generations);
        return means.Select(m => (IReadOnlyDictionary<string, double>)new Dictionary<string, double> { ["magnitude"] = m / (End - Start) }).ToArray();
    }
}
