using Deja.Tensors;

namespace Deja.Diffusion.Schedulers;

/// <summary>What the denoiser predicts (diffusers' prediction_type).</summary>
public enum PredictionType { Epsilon, VPrediction, Sample }

/// <summary>
/// DDIM sampling (diffusers' DDIMScheduler): timestep spacing, the η-step, and the conversions between
/// the model output, ε, x̂₀ and the score (METHODS.md §0.2–0.4). Arithmetic is float32 in the same order
/// as diffusers so results agree to rounding.
/// </summary>
public sealed class Ddim
{
    public NoiseSchedule Schedule { get; }
    public PredictionType Prediction { get; }
    public int StepsOffset { get; }
    public string TimestepSpacing { get; }
    /// <summary>The scheduler config the settings came from (named in messages about them); null when built in code.</summary>
    public string? Source { get; init; }
    /// <summary>ᾱ used when the previous timestep is negative: 1 with set_alpha_to_one, else ᾱ_0.</summary>
    public float FinalAlphaCumprod { get; }

    public Ddim(NoiseSchedule schedule, PredictionType prediction = PredictionType.Epsilon, int stepsOffset = 1,
        bool setAlphaToOne = false, string timestepSpacing = "leading")
    {
        if (timestepSpacing is not ("leading" or "trailing" or "linspace"))
            throw new DejaException($"timestep_spacing '{timestepSpacing}' is not supported (supported: leading, trailing, linspace)");
        Schedule = schedule;
        Prediction = prediction;
        StepsOffset = stepsOffset;
        TimestepSpacing = timestepSpacing;
        FinalAlphaCumprod = setAlphaToOne ? 1f : schedule.AlphasCumprod[0];
    }

    /// <summary>The Stable Diffusion scheduler of METHODS.md §0.2 (scaled_linear 0.00085…0.012, leading, offset 1).</summary>
    public static Ddim StableDiffusion(PredictionType prediction = PredictionType.Epsilon)
        => new(NoiseSchedule.Create("scaled_linear"), prediction);

    /// <summary>diffusers' set_timesteps(n): the descending timesteps of an n-step run.</summary>
    public int[] Timesteps(int steps)
    {
        int T = Schedule.TrainTimesteps;
        if (steps < 1 || steps > T) throw new ArgumentOutOfRangeException(nameof(steps), $"DDIM: steps must be in [1, {T}], got {steps}");
        var ts = new int[steps];
        switch (TimestepSpacing)
        {
            case "leading":
            {
                int ratio = T / steps;
                for (int i = 0; i < steps; i++) ts[i] = (steps - 1 - i) * ratio + StepsOffset;
                break;
            }
            case "trailing":
            {
                double ratio = T / (double)steps;
                for (int i = 0; i < steps; i++) ts[i] = (int)Math.Round(T - i * ratio) - 1;
                break;
            }
            default: // linspace
            {
                for (int i = 0; i < steps; i++) ts[i] = (int)Math.Round((T - 1) * (double)(steps - 1 - i) / Math.Max(steps - 1, 1));
                break;
            }
        }
        // Only "leading" adds steps_offset; a config whose offset pushes the first timestep past the
        // schedule cannot run this many steps (diffusers would fail indexing the schedule).
        if (ts[0] >= T)
            throw new DejaException($"{Source ?? "DDIM"}: steps_offset {StepsOffset} puts the first of {steps} timesteps at {ts[0]}, past the {T} training timesteps");
        return ts;
    }

    /// <summary>The timestep after <paramref name="t"/> in an n-step run (may be negative: then ᾱ = final alpha).</summary>
    public int PreviousTimestep(int t, int steps) => t - Schedule.TrainTimesteps / steps;

    float AlphaBarOrFinal(int t) => t >= 0 ? Schedule.AlphaBar(t) : FinalAlphaCumprod;

    /// <summary>x̂₀ and ε̂ from the model output at (x_t, t).</summary>
    public (Tensor X0, Tensor Eps) Decompose(Tensor modelOutput, Tensor sample, int t)
    {
        CheckSame(modelOutput, sample, "DDIM");
        float a = Schedule.AlphaBar(t), b = 1f - a;
        float sa = MathF.Sqrt(a), sb = MathF.Sqrt(b);
        switch (Prediction)
        {
            case PredictionType.Epsilon:
                return ((sample - modelOutput * sb) / sa, modelOutput);
            case PredictionType.VPrediction:
                return (sample * sa - modelOutput * sb, modelOutput * sa + sample * sb);
            default:
                return (modelOutput, (sample - modelOutput * sa) / sb);
        }
    }

    /// <summary>ε̂ from the model output (identity for ε-models; √ᾱ·v + σ·x for v-models).</summary>
    public Tensor Epsilon(Tensor modelOutput, Tensor sample, int t) => Decompose(modelOutput, sample, t).Eps;

    /// <summary>The score ∇ log p_t(x) = −ε̂/σ_t.</summary>
    public Tensor Score(Tensor modelOutput, Tensor sample, int t) => Epsilon(modelOutput, sample, t) * (-1f / Schedule.Sigma(t));

    /// <summary>
    /// One DDIM step from t to the previous timestep of an n-step run: x_prev = √ᾱ_prev·x̂₀ +
    /// √(1−ᾱ_prev−σ²)·ε̂ + σ·noise with σ = η·√((1−ᾱ_prev)/(1−ᾱ_t))·√(1−ᾱ_t/ᾱ_prev).
    /// </summary>
    public (Tensor PrevSample, Tensor PredOriginal) Step(Tensor modelOutput, int t, Tensor sample, int steps,
        float eta = 0f, Tensor? varianceNoise = null, Generator? generator = null)
    {
        int prev = PreviousTimestep(t, steps);
        float a = Schedule.AlphaBar(t), aPrev = AlphaBarOrFinal(prev);
        float b = 1f - a, bPrev = 1f - aPrev;
        var (x0, eps) = Decompose(modelOutput, sample, t);
        float variance = bPrev / b * (1f - a / aPrev);
        float std = eta * MathF.Sqrt(variance);
        var direction = eps * MathF.Sqrt(1f - aPrev - std * std);
        var prevSample = x0 * MathF.Sqrt(aPrev) + direction;
        if (eta > 0)
        {
            var noise = varianceNoise ?? Tensor.RandN(generator ?? throw new ArgumentException("DDIM: η > 0 needs variance noise or a generator"), sample.Shape);
            CheckSame(noise, sample, "DDIM variance noise");
            prevSample = prevSample + noise * std;
        }
        return (prevSample, x0);
    }

    /// <summary>Forward process: x_t = √ᾱ_t·x₀ + σ_t·ε (training, SAIL, replication checks).</summary>
    public Tensor AddNoise(Tensor x0, Tensor noise, int t)
    {
        CheckSame(x0, noise, "add_noise");
        float a = Schedule.AlphaBar(t);
        return x0 * MathF.Sqrt(a) + noise * MathF.Sqrt(1f - a);
    }

    static void CheckSame(Tensor a, Tensor b, string op)
    {
        if (!Shapes.Equal(a.Shape, b.Shape))
            throw new ArgumentException($"{op}: shapes {Shapes.Str(a.Shape)} and {Shapes.Str(b.Shape)} differ");
    }
}
