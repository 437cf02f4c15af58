using System.Text.Json.Nodes;
using Deja.Memorization.Localization;
using Deja.Memorization.Models;
using Deja.Tensors;

namespace Deja.Memorization.Detection;

/// <summary>
/// Bright Ending (Chen et al., ICLR'25) masked-magnitude detection, METHODS.md §4.8: Wen's magnitude
/// ‖ε_c − ε_u‖ with the difference weighted by BE's mask m (<see cref="BrightEnding.EndTokenMaps"/>), the
/// end token's cross-attention map at the LAST step of the ordinary CFG/DDIM trajectory:
/// for every step k and generation j, ‖(ε_c − ε_u)_j ⊙ m_j‖₂ / mean(m_j), m broadcast over the channels
/// (and resized bilinearly to the latent resolution when the mask's block is coarser, as deja-mini's
/// 16×16 maps on 32×32 latents); the score is the mean over the n generations and all steps.
/// <para>
/// The reference runs the trajectory twice on the same noise: once to take the mask at step
/// <see cref="Steps"/> − 1 (the latent before the final update), then again to weigh every step's
/// Δε by it. The trajectory is deterministic, so this detector runs it ONCE — the mask is taken from the
/// conditional half of the step's own CFG call, and every step's Δε is kept (as per-pixel channel sums of
/// squares) until the mask is known: the same score at half the model calls.
/// ε units; for v-models Δε = √ᾱ·Δv, as <see cref="MagnitudeDetector"/>.
/// </para>
/// </summary>
public sealed class BrightEndingDetector : IMemorizationDetector
{
    public string Method => "bright-ending";
    public IReadOnlyList<string> ScoreNames { get; } = ["bright_ending"];
    public int ModelCallsPerBatch => Steps;

    public int Steps { get; init; } = 50;
    public double Guidance { get; init; } = 7.5;

    void Validate()
    {
        if (Steps < 1) throw new ArgumentException($"bright-ending: steps must be at least 1, got {Steps}");
        if (!double.IsFinite(Guidance) || Guidance < 0)
            throw new DejaException($"bright-ending: --guidance must be a finite number ≥ 0, got {Guidance}");
    }

    public JsonObject Parameters(IDiffusionModelView model)
    {
        Validate();
        var timesteps = DetectorSchedule.Timesteps(model, Method, Steps);
        var shape = model.LatentShape;
        var (h, w) = BrightEnding.MapSize(model, shape[1], shape[2]);
        return new()
        {
            ["steps"] = Steps, ["guidance"] = Guidance,
            ["mask_step"] = Steps - 1, ["mask_timestep"] = timesteps[^1],
            ["mask_layers"] = new JsonArray([.. BrightEnding.MaskLayerPaths(model).Select(p => (JsonNode)p)]),
            ["mask_size"] = $"{h}x{w}",
        };
    }

    public IReadOnlyList<IReadOnlyDictionary<string, double>> Score(IDiffusionModelView model, PromptBatch batch)
    {
        ArgumentNullException.ThrowIfNull(model); ArgumentNullException.ThrowIfNull(batch);
        Validate();
        var view = BrightEnding.RequireStableDiffusion(model);
        if (batch.TokenCounts is null)
            throw new ArgumentException("bright-ending: the prompt batch has no token counts (PromptBatch.TokenCounts, from EncodedConditions.TokenCounts), so the end token of its prompts is unknown");
        var timesteps = DetectorSchedule.Timesteps(model, Method, Steps);
        int rows = batch.Count * batch.Generations;
        var ends = BrightEnding.RepeatEach(BrightEnding.EndTokenIndices(batch.TokenCounts, batch.Conditions.Shape[1]), batch.Generations);

        // per step: Σ_channels Δε² per pixel and row, [rows · H · W]
        var squares = new double[Steps][];
        float[] mask;
        int pixels;
        using (GradMode.NoGrad())
        {
            var x = batch.StackedLatents();
            int height = x.Shape[2], width = x.Shape[3];
            pixels = height * width;
            Tensor? maps = null;
            try
            {
                for (int k = 0; k < Steps; k++)
                {
                    int t = timesteps[k];
                    using var scope = TensorScope.Enter();
                    Tensor u, c;
                    if (k == Steps - 1)
                    {
                        (u, c, maps) = GuidedWithMaps(view, batch, x, t, ends);
                        scope.Keep(maps);
                    }
                    // Only the first step has every prompt on the same latents.
                    else (u, c) = batch.CfgOutputs(model, x, t, shareUnconditional: k == 0 && batch.SharedLatents);
                    squares[k] = ChannelSquares(model.Scheduler.Epsilon(c, x, t) - model.Scheduler.Epsilon(u, x, t));
                    if (k + 1 < Steps)
                    {
                        var guided = u + (c - u) * (float)Guidance;
                        var next = model.Scheduler.Step(guided, t, x, Steps).PrevSample;
                        scope.Keep(next);
                        x.Dispose();
                        x = next;
                    }
                }
                using var resized = BrightEnding.Resize(maps!, height, width);
                mask = resized.ToArray();
            }
            finally { x.Dispose(); maps?.Dispose(); }
        }

        var sums = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            var m = mask.AsSpan(r * pixels, pixels);
            double mean = 0;
            foreach (var v in m) mean += v;
            mean /= pixels;
            for (int k = 0; k < Steps; k++)
            {
                var sq = squares[k].AsSpan(r * pixels, pixels);
                double total = 0;
                for (int p = 0; p < pixels; p++) total += (double)m[p] * m[p] * sq[p];
                sums[r] += Math.Sqrt(total) / mean;
            }
        }
        var means = Reduce.GroupMeans(sums, batch.Generations);
        return means.Select(v => (IReadOnlyDictionary<string, double>)new Dictionary<string, double> { ["bright_ending"] = v / Steps }).ToArray();
    }

    /// <summary>
    /// The CFG call of one step, [∅ ; c] on [x ; x] as <see cref="PromptBatch.CfgOutputs"/> (never sharing
    /// the unconditional rows), with the end-token maps [rows, h, w] of its conditional half captured.
    /// </summary>
    static (Tensor Uncond, Tensor Cond, Tensor Maps) GuidedWithMaps(StableDiffusionView view, PromptBatch batch, Tensor x, int t, int[] ends)
    {
        int rows = x.Shape[0];
        var capture = new BrightEnding.EndTokenCapture(view, x.Shape[2], x.Shape[3], batch.Conditions.Shape[1], ends, rowOffset: rows, rows: rows);
        var both = view.Forward(Ops.Concat([x, x], 0), t, Ops.Concat([batch.RepeatedNull(rows), batch.RepeatedConditions()], 0), capture.Hook);
        return (Ops.Narrow(both, 0, 0, rows), Ops.Narrow(both, 0, rows, rows), capture.Maps());
    }

    /// <summary>Σ over channels of d² per row and pixel: [R, C, H, W] → R·H·W values, in double.</summary>
    static double[] ChannelSquares(Tensor d)
    {
        int rows = d.Shape[0], channels = d.Shape[1], pixels = d.Shape[2] * d.Shape[3];
        var s = d.ReadOnlySpan;
        var result = new double[rows * pixels];
        for (int r = 0; r < rows; r++)
            for (int ch = 0; ch < channels; ch++)
            {
                var plane = s.Slice((r * channels + ch) * pixels, pixels);
                for (int p = 0; p < pixels; p++) result[r * pixels + p] += (double)plane[p] * plane[p];
            }
        return result;
    }
}
