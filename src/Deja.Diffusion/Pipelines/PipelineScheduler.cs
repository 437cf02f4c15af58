using Deja.Diffusion.IO;
using Deja.Diffusion.Schedulers;
using Deja.Tensors;

namespace Deja.Diffusion.Pipelines;

/// <summary>
/// A pipeline's scheduler/scheduler_config.json → the <see cref="Ddim"/> sampler, the way diffusers'
/// <c>DDIMScheduler.from_config</c> builds it: the betas of the config's beta schedule (or its
/// trained_betas) in float32, its prediction type, steps_offset, set_alpha_to_one and timestep spacing.
/// Settings that would change DDIM's arithmetic in ways Deja does not implement (x̂₀ clipping, zero
/// terminal SNR rescaling; dynamic thresholding is already refused by the config) are refused here,
/// so a run never silently differs from diffusers.
/// </summary>
public static class PipelineScheduler
{
    public static Ddim Create(DdimSchedulerConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var problems = config.Problems().ToList();
        if (config.ClipSample)
            problems.Add($"{config.Source}: clip_sample true is not supported (Stable Diffusion's DDIM does not clip x̂₀; set it to false)");
        if (config.RescaleBetasZeroSnr)
            problems.Add($"{config.Source}: rescale_betas_zero_snr true is not supported (supported: false)");
        if (problems.Count > 0)
            throw new DejaException(string.Join("; ", problems));
        var prediction = config.PredictionType switch
        {
            "v_prediction" => PredictionType.VPrediction,
            _ => PredictionType.Epsilon,
        };
        return new Ddim(new NoiseSchedule(Betas(config)), prediction, config.StepsOffset, config.SetAlphaToOne, config.TimestepSpacing) { Source = config.Source };
    }

    /// <summary>β_0 … β_{T−1} in float32, computed as diffusers does for each beta_schedule.</summary>
    public static float[] Betas(DdimSchedulerConfig c)
    {
        int n = c.NumTrainTimesteps;
        if (c.TrainedBetas is { } trained) return trained.Select(b => (float)b).ToArray();
        switch (c.BetaSchedule)
        {
            case "linear" or "scaled_linear":
                return NoiseSchedule.Create(c.BetaSchedule, n, c.BetaStart, c.BetaEnd).Betas;
            case "squaredcos_cap_v2":
                return CosineBetas(n);
            default:
                throw new DejaException($"{c.Source}: beta_schedule '{c.BetaSchedule}' is not supported (supported: {string.Join(", ", DdimSchedulerConfig.SupportedBetaSchedules)})");
        }
    }

    /// <summary>
    /// The cosine schedule (Nichol &amp; Dhariwal): ᾱ(s) = cos²((s + 0.008)/1.008 · π/2),
    /// β_i = min(1 − ᾱ((i+1)/T)/ᾱ(i/T), 0.999), in double and then rounded, as diffusers' betas_for_alpha_bar.
    /// </summary>
    static float[] CosineBetas(int n)
    {
        static double AlphaBar(double s) { double c = Math.Cos((s + 0.008) / 1.008 * Math.PI / 2); return c * c; }
        var betas = new float[n];
        for (int i = 0; i < n; i++)
            betas[i] = (float)Math.Min(1 - AlphaBar((i + 1) / (double)n) / AlphaBar(i / (double)n), 0.999);
        return betas;
    }
}
