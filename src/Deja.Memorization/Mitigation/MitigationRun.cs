using Deja.Diffusion.Text;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Deja.Memorization.Detection;
using Deja.Memorization.Models;
using Deja.Tensors;

namespace Deja.Memorization.Mitigation;

/// <summary>The mitigations `deja mitigate --method` runs.</summary>
public enum MitigationMethod
{
    /// <summary>Plain generation: the un-mitigated row every table compares with.</summary>
    None,
    /// <summary>Wen et al.'s prompt-embedding optimization (METHODS.md §1.3).</summary>
    Prompt,
    /// <summary>Wen et al.'s random-token baseline (§1.3).</summary>
    RandomTokens,
    /// <summary>Jeon et al.'s sharpness-aware initial noise (§2.2; Asthana's published mitigation).</summary>
    Sail,
    /// <summary>Asthana's prompt adaptation as the paper describes it (§3.2 b, a reconstruction): Wen's optimizer on the anisotropy score.</summary>
    PromptAnisotropy,
}

/// <summary>What mitigating one prompt did, and its n generations (images in [−1, 1], [3, H, W] each).</summary>
public sealed record MitigationResult(int Index, string Prompt, long? Seed)
{
    /// <summary>The prompt text generation used (random tokens), or null when the text was not changed.</summary>
    public string? ChangedPrompt { get; init; }
    /// <summary>The optimizer's loss before each update (prompt methods), else empty.</summary>
    public IReadOnlyList<double> Losses { get; init; } = [];
    /// <summary>Whether the method's stop criterion was met (null where it has none).</summary>
    public bool? StopCriterionMet { get; init; }
    public int Updates { get; init; }
    /// <summary>The detector's decision score of the original prompt and of what generation was conditioned on.</summary>
    public double? ScoreBefore { get; init; }
    public double? ScoreAfter { get; init; }
    public bool Truncated { get; init; }
    public required IReadOnlyList<float[]> Images { get; init; }
    public int ImageHeight { get; init; }
    public int ImageWidth { get; init; }
    /// <summary>Wall seconds for this prompt: scoring, mitigation and the n generations.</summary>
    public double Seconds { get; init; }
}

/// <summary>
/// One mitigation over a list of prompts on a Stable Diffusion pipeline (deja-mini included): per prompt
/// the initial noise x_T of its n generations (Wen's policy by default: seed = prompt index + seed), the
/// method's change to the conditioning (optimized embedding, or perturbed prompt text), the detector's
/// score before and after (on the same x_T), and n images generated from x_T with CFG and DDIM. The CLI
/// (`deja mitigate`) and the service call this; they only parse options and write outputs.
/// </summary>
public sealed class MitigationRun
{
    public required StableDiffusionView Model { get; init; }
    public required InitialNoise Noise { get; init; }
    public MitigationMethod Method { get; init; } = MitigationMethod.Prompt;
    public PromptEmbeddingOptimization Prompt { get; init; } = new();
    public RandomTokenAugmentation RandomTokens { get; init; } = new();
    public Sail Sail { get; init; } = new();
    /// <summary>The score prompt-anisotropy minimizes (its γ, timesteps and scalings).</summary>
    public AnisotropyDetector AdaptationScore { get; init; } = new();
    /// <summary>Seed of the random-token draws; prompt i uses a generator seeded with seed + i.</summary>
    public long TokenSeed { get; init; }
    public int Steps { get; init; } = 50;
    public double Guidance { get; init; } = 7.5;
    /// <summary>Scores before and after (null: not scored). Its own noise is the run's x_T.</summary>
    public IMemorizationDetector? Scorer { get; init; } = new AnisotropyDetector();

    public void Validate()
    {
        if (Steps < 1) throw new DejaException($"mitigate: --steps must be at least 1, got {Steps}");
        if (!double.IsFinite(Guidance) || Guidance < 0) throw new DejaException($"mitigate: --guidance must be a finite number ≥ 0, got {Guidance}");
        Prompt.Validate();
        RandomTokens.Validate();
        Sail.Validate();
    }

    /// <summary>The method's parameters as every output row records them.</summary>
    public JsonObject Parameters()
    {
        Validate();
        var p = new JsonObject
        {
            ["method"] = MethodName(Method), ["steps"] = Steps, ["guidance"] = Guidance, ["noise"] = Noise.Describe(),
        };
        switch (Method)
        {
            case MitigationMethod.Prompt: p["optimizer"] = Prompt.Parameters(Model); break;
            case MitigationMethod.PromptAnisotropy:
                p["optimizer"] = Prompt.Parameters(Model); p["loss"] = "anisotropy"; p["loss_parameters"] = AdaptationScore.Parameters(Model);
                break;
            case MitigationMethod.RandomTokens:
                p["kind"] = RandomTokenAugmentation.KindName(RandomTokens.Kind); p["repeat"] = RandomTokens.Repeat; p["token_seed"] = TokenSeed;
                break;
            case MitigationMethod.Sail: p["sail"] = Sail.Parameters(Model); break;
        }
        if (Scorer is not null) { p["scorer"] = Scorer.Method; p["scorer_parameters"] = Scorer.Parameters(Model); }
        return p;
    }

    public static string MethodName(MitigationMethod m) => m switch
    {
        MitigationMethod.None => "none",
        MitigationMethod.Prompt => "prompt",
        MitigationMethod.Sail => "sail",
        MitigationMethod.PromptAnisotropy => "prompt-anisotropy",
        _ => "random-tokens",
    };

    public static MitigationMethod ParseMethod(string text) => text.Trim().ToLowerInvariant() switch
    {
        "none" => MitigationMethod.None,
        "prompt" => MitigationMethod.Prompt,
        "random-tokens" => MitigationMethod.RandomTokens,
        "sail" => MitigationMethod.Sail,
        "prompt-anisotropy" => MitigationMethod.PromptAnisotropy,
        _ => throw new DejaException($"mitigate: unknown method '{text}' (use none, prompt, prompt-anisotropy, random-tokens or sail)"),
    };

    /// <summary>Mitigates and generates prompt by prompt (<paramref name="startIndex"/>: the index of the first, for resumed runs).</summary>
    public IEnumerable<MitigationResult> Run(IReadOnlyList<string> prompts, int startIndex = 0)
    {
        Validate();
        using var nullCondition = Model.NullCondition();
        for (int i = startIndex; i < prompts.Count; i++)
            yield return One(i, prompts[i], nullCondition);
    }

    MitigationResult One(int index, string prompt, Tensor nullCondition)
    {
        var clock = Stopwatch.StartNew();
        using var scope = TensorScope.Enter();
        var latents = Noise.For(index);
        using var encoded = Model.Encode([prompt]);
        var condition = encoded.Conditions;
        double? before = Score(condition, nullCondition, latents);

        Tensor used = condition;
        string? changed = null;
        IReadOnlyList<double> losses = [];
        bool? stopped = null;
        int updates = 0;
        switch (Method)
        {
            case MitigationMethod.Prompt:
                var result = Prompt.Optimize(Model, condition, nullCondition, latents);
                used = result.Embedding;
                losses = result.Losses;
                stopped = Prompt.TargetLoss is null ? null : result.ReachedTarget;
                updates = result.Updates;
                break;
            case MitigationMethod.PromptAnisotropy:
                using (var anisotropy = new AnisotropyLoss(Model, AdaptationScore, nullCondition, latents))
                {
                    var adapted = Prompt.Optimize(Model, condition, nullCondition, latents, anisotropy);
                    used = adapted.Embedding;
                    losses = adapted.Losses;
                    stopped = Prompt.TargetLoss is null ? null : adapted.ReachedTarget;
                    updates = adapted.Updates;
                }
                break;
            case MitigationMethod.Sail:
                var sail = Sail.Find(Model, condition, nullCondition, latents.Shape[0], SeedOf(index));
                latents = sail.Latents;
                losses = sail.Losses;
                stopped = !sail.FellBack;
                updates = sail.Evaluations;
                break;
            case MitigationMethod.RandomTokens:
                changed = RandomTokens.Apply(prompt, new Generator(unchecked((ulong)(TokenSeed + index))), Model.Pipeline.TextEncoder.Tokenizer);
                used = Model.Encode([changed]).Conditions;
                break;
        }
        double? after = Method == MitigationMethod.None ? before : Score(used, nullCondition, latents);

        Tensor images;
        using (GradMode.NoGrad())
        {
            var cfg = Ops.Concat([nullCondition, used], 0);
            var final = Model.Pipeline.DenoiseBatch(cfg, latents, Steps, Guidance);
            images = Model.Pipeline.Decode(final);
        }
        foreach (var v in images.ReadOnlySpan)
            if (!float.IsFinite(v))
                throw new DejaException($"mitigate: prompt {index} generated a non-finite pixel ({MethodName(Method)}); no image was written for it");
        int n = images.Shape[0], per = images.Length / n;
        var list = Enumerable.Range(0, n).Select(j => images.ReadOnlySpan.Slice(j * per, per).ToArray()).ToList();
        return new MitigationResult(index, prompt, Noise.Describe()["seed"] is null ? null : SeedOf(index))
        {
            ChangedPrompt = changed, Losses = losses, StopCriterionMet = stopped, Updates = updates,
            ScoreBefore = before, ScoreAfter = after, Truncated = encoded.Truncated[0],
            Images = list, ImageHeight = images.Shape[2], ImageWidth = images.Shape[3], Seconds = clock.Elapsed.TotalSeconds,
        };
    }

    /// <summary>The prompt's noise seed: seed + index under the index policy, the seed itself under same (0 for latents from a file).</summary>
    long SeedOf(int index)
    {
        long seed = Noise.Describe()["seed"] is { } s ? (long)s : 0;
        return Noise.Policy == SeedPolicy.Index ? seed + index : seed;
    }

    double? Score(Tensor condition, Tensor nullCondition, Tensor latents)
    {
        if (Scorer is null) return null;
        using var _ = GradMode.NoGrad();
        var batch = new PromptBatch(condition, nullCondition, [latents]);
        return Scorer.Score(Model, batch)[0][Scorer.ScoreNames[0]];
    }
}
