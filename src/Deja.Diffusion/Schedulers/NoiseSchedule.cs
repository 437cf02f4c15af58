namespace Deja.Diffusion.Schedulers;

/// <summary>
/// The DDPM training schedule: β_i and ᾱ_t = Π (1 − β_i), in float32 exactly as diffusers builds them
/// (METHODS.md §0.2). Shared by DDIM sampling, the detectors and training.
/// </summary>
public sealed class NoiseSchedule
{
    public int TrainTimesteps { get; }
    public float[] Betas { get; }
    public float[] AlphasCumprod { get; }

    public NoiseSchedule(float[] betas)
    {
        if (betas.Length == 0) throw new ArgumentException("noise schedule: no betas");
        Betas = betas;
        TrainTimesteps = betas.Length;
        AlphasCumprod = new float[betas.Length];
        float acc = 1f;
        for (int i = 0; i < betas.Length; i++)
        {
            acc *= 1f - betas[i];
            AlphasCumprod[i] = acc;
        }
    }

    /// <summary>Builds the schedule named by diffusers' beta_schedule.</summary>
    public static NoiseSchedule Create(string betaSchedule, int trainTimesteps = 1000, float betaStart = 0.00085f, float betaEnd = 0.012f)
    {
        if (trainTimesteps < 2) throw new ArgumentException($"noise schedule: num_train_timesteps must be at least 2, got {trainTimesteps}");
        float[] betas = betaSchedule switch
        {
            // linspace(√β0, √β1, N)² in float32
            "scaled_linear" => Linspace(MathF.Sqrt(betaStart), MathF.Sqrt(betaEnd), trainTimesteps).Select(b => b * b).ToArray(),
            "linear" => Linspace(betaStart, betaEnd, trainTimesteps),
            _ => throw new NotSupportedException($"beta_schedule '{betaSchedule}' is not supported (supported: scaled_linear, linear)"),
        };
        return new NoiseSchedule(betas);
    }

    /// <summary>
    /// torch.linspace in float32: the first half counts up from start, the second half down from end,
    /// with the step computed in float32 (this is what makes the endpoints exact).
    /// </summary>
    public static float[] Linspace(float start, float end, int steps)
    {
        var o = new float[steps];
        if (steps == 1) { o[0] = start; return o; }
        float step = (end - start) / (steps - 1);
        int half = steps / 2;
        for (int i = 0; i < steps; i++)
            o[i] = i < half ? start + step * i : end - step * (steps - i - 1);
        return o;
    }

    public float AlphaBar(int t)
    {
        if (t < 0 || t >= TrainTimesteps) throw new ArgumentOutOfRangeException(nameof(t), $"timestep {t} is outside [0, {TrainTimesteps})");
        return AlphasCumprod[t];
    }

    /// <summary>σ_t = √(1 − ᾱ_t).</summary>
    public float Sigma(int t) => MathF.Sqrt(1f - AlphaBar(t));
}
