using Deja.Memorization.Detection;
using Deja.Memorization.Models;
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

    /// <summary>
    /// The mitigation run of `deja generate --mitigate/--guard` and the service's /v1/generate: n images
    /// from seed (every image its own x_T, drawn as one [n, C, H, W] tensor), the method at deja mitigate's
    /// defaults with the generation's steps (SAIL with the model's measured threshold), no before/after scorer.
    /// </summary>
    public static MitigationRun ForGeneration(StableDiffusionView view, MitigationMethod method, long seed, int n, int steps, double guidance) => new()
    {
        Model = view, Noise = InitialNoise.Seeded(view.LatentShape, n, seed, SeedPolicy.Same), Method = method,
        Steps = steps, Guidance = guidance, Scorer = null, Sail = new Sail { Threshold = SailDefaults.Threshold(view), Steps = steps },
        Prompt = new PromptEmbeddingOptimization { Steps = steps },
    };

    /// <summary>
    /// The threshold of a calibration made for this model, the detector's settings and the same n; its
    /// noise seed and policy may differ (the guard scores each prompt on its own generation's noise).
    /// `deja generate --guard --calibration` and the service's /v1/generate both take it from here.
    /// </summary>
    public static double CalibratedThreshold(Calibration calibration, IDiffusionModelView view, IMemorizationDetector detector, int n) =>
        CalibratedThreshold(calibration, view.Identity().ToJsonString(), detector.Method, detector.ScoreNames[0], detector.Parameters(view), n);

    /// <summary>
    /// The same check for scores recorded elsewhere (a `deja mitigate` folder's score_before): the model's
    /// identity JSON, the detector's method, decision column and parameters, and the noise draws per prompt.
    /// </summary>
    public static double CalibratedThreshold(Calibration calibration, string modelJson, string method, string column,
        System.Text.Json.Nodes.JsonNode detectorParameters, int n)
    {
        string path = calibration.Path ?? "the calibration";
        var calibrated = System.Text.Json.Nodes.JsonNode.Parse(calibration.ParamsJson)!.AsObject();
        var noise = calibrated["noise"]?.DeepClone();
        if ((int?)noise?["n"] is { } cn && cn != n)
            throw new DejaException($"guard: {path} was calibrated with n = {cn} noise draws per prompt, this guard scores n = {n}; calibrate with --n {n}");
        var mine = new System.Text.Json.Nodes.JsonObject { [method] = detectorParameters.DeepClone(), ["noise"] = noise };
        calibration.Check(modelJson, method, mine.ToJsonString());
        if (calibration.Column != column)
            throw new DejaException($"guard: {path} thresholds the column \"{calibration.Column}\"; the guard uses \"{column}\"");
        return calibration.Threshold;
    }

    /// <summary>Generation <paramref name="j"/> of a result as an 8-bit image (the [−1, 1] model output mapped to [0, 1]).</summary>
    public static Deja.Diffusion.Images.Image ToImage(MitigationResult result, int j)
    {
        var unit = result.Images[j].Select(v => v / 2 + 0.5f).ToArray();
        using var tensor = Tensor.FromArray(unit, 3, result.ImageHeight, result.ImageWidth);
        return Deja.Diffusion.Images.Image.FromTensor01(tensor);
    }

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
