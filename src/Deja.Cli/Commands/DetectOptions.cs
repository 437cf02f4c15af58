using System.CommandLine;
using Deja.Diffusion.Text;
using Deja.Memorization.Detection;
using Deja.Memorization.Evaluation;
using Deja.Memorization.Models;

namespace Deja.Cli;

/// <summary>The settings of a detect run, read from the command line or set by the benchmark mode.</summary>
public sealed record DetectSettings(IMemorizationDetector[] Detectors, int N, long Seed, SeedPolicy Policy, string? Latents, bool LatentsPerPrompt,
    int Batch, string? Family, int? ImageSize, int? Limit)
{
    /// <summary>Refuses impossible counts before anything is loaded or written.</summary>
    public void Validate()
    {
        if (Batch < 1) throw new ArgumentException($"--batch must be at least 1, got {Batch}");
        if (N < 1) throw new ArgumentException($"--n must be at least 1, got {N}");
        if (Limit is < 1) throw new ArgumentException($"--limit must be at least 1, got {Limit}");
        if (Latents is not null && N != 1) throw new ArgumentException("--n is taken from the --latents file; do not give both");
    }
}

/// <summary>
/// The options that decide a detect run's scores (methods and their parameters, the noise) and how it
/// runs (batch, family, image size, limit). `deja detect` and `deja calibrate` both take them from here,
/// so a threshold is calibrated with exactly the options detect will later be given.
/// </summary>
public sealed class DetectOptions
{
    readonly Option<string> method = new("--method") { Description = "anisotropy, magnitude, sharpness, bright-ending (Bright Ending's masked magnitude: a whole 50-step trajectory), a comma-separated list, or all (the first three)", DefaultValueFactory = _ => "anisotropy" };
    readonly Option<int> n = new("--n") { Description = "Noise draws (generations) per prompt", DefaultValueFactory = _ => 1 };
    readonly Option<long> seed = new("--seed") { Description = "Seed of the initial noise (Asthana's script: 51; Jeon: 42; Wen: offset 0 with --seed-policy index)", DefaultValueFactory = _ => 51 };
    readonly Option<string> policy = new("--seed-policy") { Description = "same: one seed for every prompt (prompt-order invariant); index: seed = prompt index + --seed", DefaultValueFactory = _ => "same" };
    readonly Option<string?> latents = new("--latents") { Description = "safetensors file with x_T: [n,C,H,W] for all prompts, or [prompts,n,C,H,W] one row per prompt" };
    readonly Option<bool> latentsPerPrompt = new("--latents-per-prompt") { Description = "Read a 4-D --latents tensor as [prompts,C,H,W] (n = 1) instead of [n,C,H,W]" };
    readonly Option<int> batch = new("--batch") { Description = "Prompts per model call", DefaultValueFactory = _ => 8 };
    readonly Option<string?> family = new("--family") { Description = "Model family for the published hyperparameters: sd1, sd2 (768-v) or rv (default: sd2 for v-prediction, else sd1)" };
    readonly Option<int?> imageSize = new("--image-size") { Description = "Image side in pixels (default: the UNet's sample_size × 8)" };
    readonly Option<int?> limit = new("--limit") { Description = "Score only the first N prompts of the file" };
    // anisotropy
    readonly Option<int> tNorm = new("--t-norm-index") { Description = "anisotropy: index of t_N in the 50 DDIM timesteps (0 → 981)", DefaultValueFactory = _ => 0 };
    readonly Option<int> tCos = new("--t-cosine-index") { Description = "anisotropy: index of t_C (−3 → 41; −1 → 1 as an earlier code revision)", DefaultValueFactory = _ => -3 };
    readonly Option<string> mode = new("--mode") { Description = "anisotropy cosine: \"x,c|x\" cos(u, c−u), \"x,x|c\" cos(c, u), \"x|c,c|x\" cos(c, c−u)", DefaultValueFactory = _ => "x,c|x" };
    readonly Option<double?> gammaNorm = new("--gamma-norm") { Description = "anisotropy γ₁ (default per family: sd1 1, sd2 1, rv 2)" };
    readonly Option<double?> gammaCos = new("--gamma-cosine") { Description = "anisotropy γ₂ (default per family: sd1 2, sd2 0.1, rv 1)" };
    readonly Option<string> scaling = new("--scaling") { Description = "v-models: code (the reference code's √ᾱ/σ² factor and raw-v cosine; the γ were tuned with it) or epsilon", DefaultValueFactory = _ => "code" };
    readonly Option<bool> bf16 = new("--bf16") { Description = "Round the stored terms to bfloat16 like the reference code (parity only)" };
    // magnitude
    readonly Option<int> start = new("--steps-start") { Description = "magnitude: first DDIM step of the averaged window", DefaultValueFactory = _ => 0 };
    readonly Option<int> end = new("--steps-end") { Description = "magnitude: end (exclusive) of the window; 1 = first step on pure noise, 50 = Wen's notebook", DefaultValueFactory = _ => 1 };
    readonly Option<double> guidance = new("--guidance") { Description = "magnitude, bright-ending: guidance scale of the sampling trajectory", DefaultValueFactory = _ => 7.5 };
    // sharpness
    readonly Option<string> jvp = new("--jvp") { Description = "sharpness: fd (central finite differences, any model) or autograd (double backward; needs a twice-differentiable model)", DefaultValueFactory = _ => "fd" };
    readonly Option<double> fdStep = new("--fd-step") { Description = "sharpness: finite-difference step in latent units", DefaultValueFactory = _ => 1e-2 };

    /// <summary>Every option, in the order --help lists them.</summary>
    public IReadOnlyList<Option> All =>
        [method, n, seed, policy, latents, latentsPerPrompt, batch, family, imageSize, limit, tNorm, tCos, mode, gammaNorm, gammaCos, scaling, bf16, start, end, guidance, jvp, fdStep];

    public void AddTo(Command command)
    {
        foreach (var option in All) command.Options.Add(option);
    }

    /// <summary>The options given on the command line (not defaulted), e.g. to refuse them where they would be ignored.</summary>
    public IEnumerable<string> Given(ParseResult pr) => All.Where(o => pr.GetResult(o) is { Implicit: false }).Select(o => o.Name);

    public DetectSettings Read(ParseResult pr)
    {
        var scale = ParseScaling(pr.GetValue(scaling)!);
        var detectors = DetectorOptions.ParseMethods(pr.GetValue(method)!).Select(m => (IMemorizationDetector)(m switch
        {
            "anisotropy" => new AnisotropyDetector
            {
                NormStepIndex = pr.GetValue(tNorm), CosineStepIndex = pr.GetValue(tCos), Mode = AnisotropyDetector.ParseMode(pr.GetValue(mode)!),
                NormWeight = pr.GetValue(gammaNorm), CosineWeight = pr.GetValue(gammaCos), Scaling = scale, RoundToBf16 = pr.GetValue(bf16),
            },
            "magnitude" => new MagnitudeDetector { Start = pr.GetValue(start), End = pr.GetValue(end), Guidance = pr.GetValue(guidance) },
            "bright-ending" => new BrightEndingDetector { Guidance = pr.GetValue(guidance) },
            _ => new SharpnessDetector
            {
                Jvp = ParseJvp(pr.GetValue(jvp)!), Step = pr.GetValue(fdStep), RoundToBf16 = pr.GetValue(bf16),
                Scaling = pr.GetResult(scaling) is { Implicit: false } ? scale : ScoreScaling.Epsilon,
            },
        })).ToArray();
        return new DetectSettings(detectors, pr.GetValue(n), pr.GetValue(seed), DetectorOptions.ParsePolicy(pr.GetValue(policy)!), pr.GetValue(latents),
            pr.GetValue(latentsPerPrompt), pr.GetValue(batch), pr.GetValue(family), pr.GetValue(imageSize), pr.GetValue(limit));
    }

    static ScoreScaling ParseScaling(string s) => s.Trim().ToLowerInvariant() switch
    {
        "code" => ScoreScaling.Code,
        "epsilon" or "eps" => ScoreScaling.Epsilon,
        _ => throw new ArgumentException($"--scaling must be code or epsilon, got '{s}'"),
    };

    static JvpMethod ParseJvp(string s) => s.Trim().ToLowerInvariant() switch
    {
        "fd" => JvpMethod.FiniteDifference,
        "autograd" => JvpMethod.Autograd,
        _ => throw new ArgumentException($"--jvp must be fd or autograd, got '{s}'"),
    };
}

/// <summary>
/// A detect run ready to score: the model, the prompt list (whole, and the first --limit of it), the
/// noise, the library's <see cref="DetectionRun"/>, and the model and parameter records every row carries.
/// </summary>
public sealed record DetectSetup(IDiffusionModelView View, IReadOnlyList<string> AllPrompts, IReadOnlyList<string> Prompts, InitialNoise Noise,
    DetectionRun Run, string ModelJson, string ParamsJson)
{
    /// <summary>Checks the settings, opens the model, reads the prompts and draws (or reads) the noise; <paramref name="command"/> names the caller in messages.</summary>
    public static DetectSetup Open(string command, string modelSpec, string? promptPath, DetectSettings s)
    {
        s.Validate();
        var view = DetectCommand.OpenModel(modelSpec, s.Family, s.ImageSize);
        List<string> allPrompts;
        if (promptPath is not null)
        {
            var file = PromptFile.Read(promptPath);
            if (file.BlankLines.Count > 0)
                Console.Error.WriteLine($"deja {command}: skipped {file.BlankLines.Count} blank line(s) of {promptPath} (line {string.Join(", ", file.BlankLines.Take(5))}{(file.BlankLines.Count > 5 ? ", ..." : "")})");
            allPrompts = file.Prompts.Select(p => p.Text).ToList();
        }
        else if (view is GaussianMixtureModel analytic) allPrompts = analytic.Conditions.Select(c => c.Prompt).ToList();
        else throw new ArgumentException("--prompts is required for a Stable Diffusion model");
        var prompts = s.Limit is { } l && l < allPrompts.Count ? allPrompts.Take(l).ToList() : allPrompts;

        var noise = s.Latents is not null
            ? InitialNoise.FromFile(s.Latents, view.LatentShape, prompts.Count, s.LatentsPerPrompt)
            : InitialNoise.Seeded(view.LatentShape, s.N, s.Seed, s.Policy);
        var run = new DetectionRun { Model = view, Detectors = s.Detectors, Noise = noise, BatchSize = s.Batch };
        return new DetectSetup(view, allPrompts, prompts, noise, run, view.Identity().ToJsonString(), run.Parameters().ToJsonString());
    }

    /// <summary>A scored prompt as the row written to (or calibrated from) a score file; <paramref name="extraJson"/>: members added after "truncated".</summary>
    public ScoreRow ToRow(DetectionRow r, string extraJson = "{}") => new()
    {
        Index = r.Index, Prompt = r.Prompt, Method = Run.Method, Scores = new OrderedDictionary<string, double>(r.Scores),
        Tokens = r.Tokens, Truncated = r.Truncated, ParamsJson = ParamsJson, ModelJson = ModelJson, ExtraJson = extraJson,
    };
}
