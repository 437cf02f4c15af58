using Deja.Memorization.Detection;
using Deja.Tensors;

namespace Deja.Memorization.Mitigation;

/// <summary>The guard's verdict on a prompt: its detection score, the threshold, and whether it was flagged (score &gt; threshold).</summary>
public sealed record GuardDecision(string Method, double Score, double Threshold, bool Flagged);

/// <summary>
/// Screening plus mitigation in one call (`deja generate --guard`, the service): score the prompt on the
/// generation's own initial noise with the detector (its two model calls), and mitigate only when the
/// score is above the threshold; an unflagged prompt is generated plainly and pays only the detector.
/// Without a threshold every prompt is mitigated.
/// </summary>
public sealed class GuardedGeneration
{
    /// <summary>The mitigation to apply to flagged prompts (its model, noise, steps and guidance are the generation's).</summary>
    public required MitigationRun Mitigation { get; init; }
    /// <summary>Flag when the detector's score is above this; null: no guard, always mitigate.</summary>
    public double? Threshold { get; init; }
    public IMemorizationDetector Detector { get; init; } = new AnisotropyDetector();

    public (GuardDecision? Decision, MitigationResult Result) Generate(string prompt)
    {
        ArgumentException.ThrowIfNullOrEmpty(prompt);
        if (Threshold is not { } threshold) return (null, Mitigation.Run([prompt]).Single());
        double score;
        using (var scope = TensorScope.Enter())
        using (GradMode.NoGrad())
        {
            using var encoded = Mitigation.Model.Encode([prompt]);
            using var nullCondition = Mitigation.Model.NullCondition();
            score = Detector.Score(Mitigation.Model, new PromptBatch(encoded.Conditions, nullCondition, [Mitigation.Noise.For(0)]))[0][Detector.ScoreNames[0]];
        }
        if (!double.IsFinite(score)) throw new DejaException($"guard: the {Detector.Method} score of the prompt is {score}; nothing was generated");
        bool flagged = score > threshold;
        var run = flagged ? Mitigation : new MitigationRun
        {
            Model = Mitigation.Model, Noise = Mitigation.Noise, Method = MitigationMethod.None, Scorer = null,
            Steps = Mitigation.Steps, Guidance = Mitigation.Guidance,
        };
        return (new GuardDecision(Detector.Method, score, threshold, flagged), run.Run([prompt]).Single());
    }
}
