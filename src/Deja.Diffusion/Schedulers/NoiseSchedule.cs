using Deja.Tensors;
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
        // torch.cumprod on CPU multiplies the float32 alphas into a double accumulator
        double acc = 1;
        for (int i = 0; i < betas.Length; i++)
        {
            acc *= 1f - betas[i];
            AlphasCumprod[i] = (float)acc;
        }
    }

    /// <summary>Builds the schedule named by diffusers' beta_schedule.</summary>
    public static NoiseSchedule Create(string betaSchedule, int trainTimesteps = 1000, double betaStart = 0.00085, double betaEnd = 0.012)
    {
        if (trainTimesteps < 2) throw new ArgumentException($"noise schedule: num_train_timesteps must be at least 2, got {trainTimesteps}");
        float[] betas = betaSchedule switch
        {
            // torch.linspace(β0 ** 0.5, β1 ** 0.5, N, dtype=float32) ** 2: the roots are taken in double
            "scaled_linear" => Linspace((float)Math.Sqrt(betaStart), (float)Math.Sqrt(betaEnd), trainTimesteps).Select(b => b * b).ToArray(),
            "linear" => Linspace((float)betaStart, (float)betaEnd, trainTimesteps),
            _ => throw new DejaException($"beta_schedule '{betaSchedule}' is not supported (supported: scaled_linear, linear)"),
        };
        return new NoiseSchedule(betas);
    }

    /// <summary>
    /// torch.linspace in float32, bit for bit as its CPU kernel (AVX2 build, which the goldens used)
    /// computes it: step = (end − start)/(steps − 1) in float32; blocks of 8 values start at
    /// start + step·i (from the end, end − step·(steps−1−i), once i is past the middle; fused
    /// multiply-add) and continue by + j·step; a tail shorter than 8 takes the block-start formula.
    /// </summary>
    public static float[] Linspace(float start, float end, int steps)
    {
        const int Lanes = 8;
        var o = new float[steps];
        if (steps == 1) { o[0] = start; return o; }
        float step = (end - start) / (steps - 1);
        int half = steps / 2, blocked = steps / Lanes * Lanes;
        float Point(int i) => i < half ? MathF.FusedMultiplyAdd(step, i, start) : MathF.FusedMultiplyAdd(-step, steps - i - 1, end);
        for (int i = 0; i < blocked; i += Lanes)
        {
            float b = Point(i);
            for (int j = 0; j < Lanes; j++) o[i + j] = MathF.FusedMultiplyAdd(j, step, b);
        }
        for (int i = blocked; i < steps; i++) o[i] = Point(i);
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
