using Deja.Diffusion.Text;
namespace Deja.Diffusion.Training;

/// <summary>One training image: pixels [C, H, W] in [−1, 1], its caption, and how often it occurs in the data.</summary>
public sealed record TrainingExample(float[] Pixels, string Caption, int Repeats = 1);

/// <summary>Hyperparameters of <see cref="Trainer"/>; everything that changes the result is checked on resume.</summary>
public sealed record TrainerOptions
{
    public int Steps { get; init; } = 6000;
    public int BatchSize { get; init; } = 32;
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>Linear warm-up steps of the learning rate.</summary>
    public int WarmupSteps { get; init; } = 200;
    public double WeightDecay { get; init; } = 0.01;
    public double MaxGradNorm { get; init; } = 1.0;
    public double EmaDecay { get; init; } = 0.999;
    /// <summary>Probability of replacing a caption by "" (classifier-free guidance training).</summary>
    public double ConditionDropout { get; init; } = 0.1;
    public ulong Seed { get; init; } = 0;
    /// <summary>Save a resumable checkpoint every this many steps.</summary>
    public int CheckpointEvery { get; init; } = 250;
    /// <summary>
    /// Wen et al.'s training-time mitigation (METHODS.md §1.4): drop the samples whose text-conditional
    /// noise magnitude ‖ε(x_t, t, c) − ε(x_t, t, ∅)‖ under the current model is at least τ; null = off.
    /// </summary>
    public double? FilterThreshold { get; init; }
    /// <summary>
    /// Offset noise (Guttenberg, 2023): the training noise gets, per image and channel, a constant
    /// N(0, s²) shift. Without it a 32×32 pixel model never learns the image's mean colour from the
    /// caption: under SD's schedule √ᾱ_T ≈ 0.068, so x_T still shows a training image's mean colour
    /// through the noise (whose per-channel mean has σ = 1/32), the three mean directions are a
    /// negligible part of the ε-loss, and the model learns to copy the colour off x_T; at sampling,
    /// when x_T is pure noise, the seed then picks the background colour, even for a caption seen
    /// 2,000 times. With the shift the loss weighs those directions and the colour has to come from
    /// the text. 0 turns it off.
    /// </summary>
    public double OffsetNoise { get; init; } = 0.1;
    /// <summary>
    /// Wen et al.'s training baseline (METHODS.md §1.3, README: 1): insert this many random words into
    /// every (non-dropped) training caption, drawn afresh at every step; 0 = off.
    /// </summary>
    public int AugmentRandomTokens { get; init; }
    public RandomTokenKind AugmentKind { get; init; } = RandomTokenKind.WordAdd;

    public void Validate()
    {
        if (Steps < 1) throw new ArgumentException($"train: steps must be at least 1, got {Steps}");
        if (BatchSize < 1) throw new ArgumentException($"train: batch size must be at least 1, got {BatchSize}");
        if (!(LearningRate > 0)) throw new ArgumentException($"train: learning rate must be positive, got {LearningRate}");
        if (WarmupSteps < 0) throw new ArgumentException($"train: warm-up steps must be non-negative, got {WarmupSteps}");
        if (!(EmaDecay >= 0 && EmaDecay < 1)) throw new ArgumentException($"train: EMA decay must be in [0, 1), got {EmaDecay}");
        if (!(ConditionDropout >= 0 && ConditionDropout <= 1)) throw new ArgumentException($"train: condition dropout must be in [0, 1], got {ConditionDropout}");
        if (CheckpointEvery < 1) throw new ArgumentException($"train: checkpoint interval must be at least 1, got {CheckpointEvery}");
        if (!(OffsetNoise >= 0)) throw new ArgumentException($"train: offset noise must be non-negative, got {OffsetNoise}");
        if (FilterThreshold is { } tau && !(tau > 0)) throw new ArgumentException($"train: the filter threshold must be positive, got {tau}");
        if (AugmentRandomTokens < 0) throw new ArgumentException($"train: --augment-random-tokens must be at least 0, got {AugmentRandomTokens}");
    }
}

/// <summary>What one optimizer step did, for logs and progress.</summary>
/// <param name="Norms">With the filter: each sample's r = ‖ε_c − ε_u‖ (0 for a dropped caption), in batch order.</param>
/// <param name="Repeats">Each sample's example's repeat count (how often its image occurs in the data), in batch order.</param>
public sealed record TrainingStep(int Step, int TotalSteps, double Loss, double LearningRate, int Kept, int BatchSize, bool Skipped, TimeSpan Elapsed,
    float[]? Norms = null, int[]? Repeats = null);
