using System.Text.Json.Nodes;
using Deja.Diffusion.Schedulers;
using Deja.Tensors;

namespace Deja.Memorization.Models;

/// <summary>
/// What a memorization method sees of a text-to-image diffusion model: conditions for prompts, the
/// null condition, the raw model output for a batch of (latent, timestep, condition) and the noise
/// schedule. Stable Diffusion pipelines and the analytic Gaussian-mixture model both implement it, so a
/// detector never knows which one it runs on (METHODS.md §7: the PredictEps primitive, with the raw
/// output kept for the code-faithful v-model scalings of Asthana and Jeon).
/// </summary>
public interface IDiffusionModelView
{
    /// <summary>A short human name (the model folder, or "analytic:demo").</summary>
    string Name { get; }

    /// <summary>A stable identity of the weights: results files refuse to mix rows of different ids.</summary>
    string Id { get; }

    /// <summary>Which published hyperparameters (γ, scalings) apply; see <see cref="ModelFamily"/>.</summary>
    ModelFamily Family { get; }

    /// <summary>The DDIM scheduler of the model (schedule, prediction type, timesteps, steps).</summary>
    Ddim Scheduler { get; }

    /// <summary>The shape [C, H, W] of one latent at the model's default resolution.</summary>
    int[] LatentShape { get; }

    /// <summary>
    /// Conditions [P, ...] for <paramref name="prompts"/> (text-encoder states for Stable Diffusion,
    /// mixture weights for the analytic model), with what tokenization did to each prompt.
    /// </summary>
    EncodedConditions Encode(IReadOnlyList<string> prompts);

    /// <summary>The null condition [1, ...] (the encoding of "" for Stable Diffusion; not a zero tensor).</summary>
    Tensor NullCondition();

    /// <summary>
    /// The raw model output (ε, v or x₀ per <see cref="Ddim.Prediction"/>) for latents [B, C, H, W] at
    /// timestep <paramref name="t"/> under conditions [B, ...]. Differentiable with respect to the latents
    /// when recording is on.
    /// </summary>
    Tensor Forward(Tensor latents, int t, Tensor conditions);
}

/// <summary>Conditions [P, ...] and, per prompt, its token count and whether it was cut to the model's length.</summary>
public sealed record EncodedConditions(Tensor Conditions, int[] TokenCounts, bool[] Truncated) : IDisposable
{
    public void Dispose() => Conditions.Dispose();
}

/// <summary>
/// Model families whose published hyperparameters differ (METHODS.md §0.1, §3.1): Stable Diffusion 1.x
/// (ε), Stable Diffusion 2 at 768 px (v-prediction), Realistic Vision (an ε-model that Asthana's code
/// sends down the v-branch), and the analytic model (treated like SD1).
/// </summary>
public enum ModelFamily { SD1, SD2, RV, Analytic }

public static class ModelFamilies
{
    public static ModelFamily Parse(string text) => text.Trim().ToLowerInvariant() switch
    {
        "sd1" or "sd1.x" or "v1" => ModelFamily.SD1,
        "sd2" or "sd2-v" or "sd2v" or "v2" => ModelFamily.SD2,
        "rv" or "realistic-vision" => ModelFamily.RV,
        "analytic" => ModelFamily.Analytic,
        _ => throw new ArgumentException($"unknown model family '{text}' (use sd1, sd2, rv or analytic)"),
    };

    public static string Name(this ModelFamily f) => f switch
    {
        ModelFamily.SD1 => "sd1", ModelFamily.SD2 => "sd2", ModelFamily.RV => "rv", _ => "analytic",
    };

    /// <summary>
    /// Whether Asthana's and Jeon's code treat the model as a v-model (their "sd_ver != 1" branch):
    /// true for SD2 and, by that code's quirk, for Realistic Vision.
    /// </summary>
    public static bool UsesVBranch(this ModelFamily f) => f is ModelFamily.SD2 or ModelFamily.RV;
}

public static class DiffusionModelViews
{
    /// <summary>
    /// The model's identity as results record it (score rows' "model", a calibration's "model"): the
    /// fingerprint id that decides whether results are comparable, and the name, family and prediction
    /// type that make it readable.
    /// </summary>
    public static JsonObject Identity(this IDiffusionModelView view) => new()
    {
        ["id"] = view.Id, ["name"] = view.Name, ["family"] = view.Family.Name(), ["prediction"] = view.Scheduler.Prediction.ToString(),
    };
}
