using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Deja.Diffusion.Pipelines;
using Deja.Diffusion.Text;
using Deja.Memorization.Detection;
using Deja.Memorization.Evaluation;
using Deja.Memorization.Models;
using Deja.Tensors;

namespace Deja.Cli;

/// <summary>
/// `deja detect`: memorization scores for every prompt of a file, one JSONL row per prompt, resumable
/// (prompts already in --out are skipped; a kill loses at most the batch in flight).
/// </summary>
public static class DetectCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "Pipeline folder (diffusers layout), or analytic[:SEED] for the analytic Gaussian-mixture demo model (default, with no --prompts: the bundled deja-mini and its benchmark)" };
        var prompts = new Option<string?>("--prompts") { Description = "Prompt file: one prompt per line, or JSONL with a prompt/caption field (default for the analytic model: all its conditions)" };
        var method = new Option<string>("--method") { Description = "anisotropy, magnitude, sharpness, bright-ending (Bright Ending's masked magnitude: a whole 50-step trajectory), a comma-separated list, or all (the first three)", DefaultValueFactory = _ => "anisotropy" };
        var n = new Option<int>("--n") { Description = "Noise draws (generations) per prompt", DefaultValueFactory = _ => 1 };
        var seed = new Option<long>("--seed") { Description = "Seed of the initial noise (Asthana's script: 51; Jeon: 42; Wen: offset 0 with --seed-policy index)", DefaultValueFactory = _ => 51 };
        var policy = new Option<string>("--seed-policy") { Description = "same: one seed for every prompt (prompt-order invariant); index: seed = prompt index + --seed", DefaultValueFactory = _ => "same" };
        var latents = new Option<string?>("--latents") { Description = "safetensors file with x_T: [n,C,H,W] for all prompts, or [prompts,n,C,H,W] one row per prompt" };
        var latentsPerPrompt = new Option<bool>("--latents-per-prompt") { Description = "Read a 4-D --latents tensor as [prompts,C,H,W] (n = 1) instead of [n,C,H,W]" };
        var batch = new Option<int>("--batch") { Description = "Prompts per model call", DefaultValueFactory = _ => 8 };
        var output = new Option<string?>("--out") { Description = "JSONL scores file (appended to; rows already there are skipped); in benchmark mode a folder (default deja-mini-detect)" };
        var family = new Option<string?>("--family") { Description = "Model family for the published hyperparameters: sd1, sd2 (768-v) or rv (default: sd2 for v-prediction, else sd1)" };
        var imageSize = new Option<int?>("--image-size") { Description = "Image side in pixels (default: the UNet's sample_size × 8)" };
        var limit = new Option<int?>("--limit") { Description = "Score only the first N prompts of the file" };
        // anisotropy
        var tNorm = new Option<int>("--t-norm-index") { Description = "anisotropy: index of t_N in the 50 DDIM timesteps (0 → 981)", DefaultValueFactory = _ => 0 };
        var tCos = new Option<int>("--t-cosine-index") { Description = "anisotropy: index of t_C (−3 → 41; −1 → 1 as an earlier code revision)", DefaultValueFactory = _ => -3 };
        var mode = new Option<string>("--mode") { Description = "anisotropy cosine: \"x,c|x\" cos(u, c−u), \"x,x|c\" cos(c, u), \"x|c,c|x\" cos(c, c−u)", DefaultValueFactory = _ => "x,c|x" };
        var gammaNorm = new Option<double?>("--gamma-norm") { Description = "anisotropy γ₁ (default per family: sd1 1, sd2 1, rv 2)" };
        var gammaCos = new Option<double?>("--gamma-cosine") { Description = "anisotropy γ₂ (default per family: sd1 2, sd2 0.1, rv 1)" };
        var scaling = new Option<string>("--scaling") { Description = "v-models: code (the reference code's √ᾱ/σ² factor and raw-v cosine; the γ were tuned with it) or epsilon", DefaultValueFactory = _ => "code" };
        var bf16 = new Option<bool>("--bf16") { Description = "Round the stored terms to bfloat16 like the reference code (parity only)" };
        // magnitude
        var start = new Option<int>("--steps-start") { Description = "magnitude: first DDIM step of the averaged window", DefaultValueFactory = _ => 0 };
        var end = new Option<int>("--steps-end") { Description = "magnitude: end (exclusive) of the window; 1 = first step on pure noise, 50 = Wen's notebook", DefaultValueFactory = _ => 1 };
        var guidance = new Option<double>("--guidance") { Description = "magnitude, bright-ending: guidance scale of the sampling trajectory", DefaultValueFactory = _ => 7.5 };
        // sharpness
        var jvp = new Option<string>("--jvp") { Description = "sharpness: fd (central finite differences, any model) or autograd (double backward; needs a twice-differentiable model)", DefaultValueFactory = _ => "fd" };
        var fdStep = new Option<double>("--fd-step") { Description = "sharpness: finite-difference step in latent units", DefaultValueFactory = _ => 1e-2 };

        var cmd = new Command("detect", "Score prompts for memorization (anisotropy, magnitude, sharpness, bright-ending)")
        {
            model, prompts, method, n, seed, policy, latents, latentsPerPrompt, batch, output, family, imageSize, limit,
            tNorm, tCos, mode, gammaNorm, gammaCos, scaling, bf16, start, end, guidance, jvp, fdStep,
        };
        cmd.SetAction(pr =>
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
            var policyValue = DetectorOptions.ParsePolicy(pr.GetValue(policy)!);
            if (pr.GetValue(model) is null && pr.GetValue(prompts) is null)
                return RunBenchmark(detectors, pr.GetValue(n), pr.GetValue(seed), policyValue, pr.GetValue(batch), pr.GetValue(output));
            if (pr.GetValue(model) is null) throw new ArgumentException("--model is required with --prompts (without both, deja detect runs the bundled deja-mini benchmark)");
            if (pr.GetValue(output) is null) throw new ArgumentException("--out is required: the JSONL file to write the scores to");
            return Run(pr.GetValue(model)!, pr.GetValue(prompts), detectors, pr.GetValue(n), pr.GetValue(seed), policyValue,
                pr.GetValue(latents), pr.GetValue(latentsPerPrompt), pr.GetValue(batch), pr.GetValue(output)!, pr.GetValue(family), pr.GetValue(imageSize), pr.GetValue(limit));
        });
        return cmd;
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

    /// <summary>Opens --model: a pipeline folder, or "analytic[:SEED]".</summary>
    internal static IDiffusionModelView OpenModel(string spec, string? family, int? imageSize)
    {
        var fam = family is null ? (ModelFamily?)null : ModelFamilies.Parse(family);
        if (spec == "analytic" || spec.StartsWith("analytic:", StringComparison.Ordinal))
        {
            int seed = spec == "analytic" ? 0
                : int.TryParse(spec["analytic:".Length..], NumberStyles.Integer, CultureInfo.InvariantCulture, out int s) ? s
                : throw new ArgumentException($"--model {spec}: the analytic model's seed must be an integer");
            return GaussianMixtureDemo.Create(seed);
        }
        if (!Directory.Exists(spec)) throw new ArgumentException($"--model: '{spec}' is not a folder (a diffusers pipeline folder, or analytic[:SEED])");
        if (imageSize is { } side && (side < 8 || side % 8 != 0)) throw new ArgumentException($"--image-size must be a positive multiple of 8, got {side}");
        return new StableDiffusionView(StableDiffusionPipeline.Load(spec), fam, imageSize);
    }

    static int Run(string modelSpec, string? promptPath, IMemorizationDetector[] detectors, int n, long seed, SeedPolicy policy,
        string? latentsPath, bool latentsPerPrompt, int batchSize, string outPath, string? family, int? imageSize, int? limit)
    {
        if (batchSize < 1) throw new ArgumentException($"--batch must be at least 1, got {batchSize}");
        if (n < 1) throw new ArgumentException($"--n must be at least 1, got {n}");
        if (limit is < 1) throw new ArgumentException($"--limit must be at least 1, got {limit}");
        if (latentsPath is not null && n != 1) throw new ArgumentException("--n is taken from the --latents file; do not give both");
        OutputPath.CheckFile(outPath, "--out", OutputUse.Append);

        var clock = Stopwatch.StartNew();
        var view = OpenModel(modelSpec, family, imageSize);
        List<string> allPrompts;
        if (promptPath is not null)
        {
            var file = PromptFile.Read(promptPath);
            if (file.BlankLines.Count > 0)
                Console.Error.WriteLine($"deja detect: skipped {file.BlankLines.Count} blank line(s) of {promptPath} (line {string.Join(", ", file.BlankLines.Take(5))}{(file.BlankLines.Count > 5 ? ", ..." : "")})");
            allPrompts = file.Prompts.Select(p => p.Text).ToList();
        }
        else if (view is GaussianMixtureModel analytic) allPrompts = analytic.Conditions.Select(c => c.Prompt).ToList();
        else throw new ArgumentException("--prompts is required for a Stable Diffusion model");
        var prompts = limit is { } l && l < allPrompts.Count ? allPrompts.Take(l).ToList() : allPrompts;

        var noise = latentsPath is not null
            ? InitialNoise.FromFile(latentsPath, view.LatentShape, prompts.Count, latentsPerPrompt)
            : InitialNoise.Seeded(view.LatentShape, n, seed, policy);
        var run = new DetectionRun { Model = view, Detectors = detectors, Noise = noise, BatchSize = batchSize };
        var modelJson = new JsonObject { ["id"] = view.Id, ["name"] = view.Name, ["family"] = view.Family.Name(), ["prediction"] = view.Scheduler.Prediction.ToString() }.ToJsonString();
        var paramsJson = run.Parameters().ToJsonString();

        var folder = Path.GetDirectoryName(Path.GetFullPath(outPath))!;
        Directory.CreateDirectory(folder); // checked above: its nearest existing parent takes files
        using var writer = ScoresFile.OpenForAppend(outPath, view.Id, run.Method, paramsJson);
        if (writer.DroppedBytes > 0)
            Console.Error.WriteLine($"deja detect: {outPath} ended in a partial line ({writer.DroppedBytes} bytes, from an interrupted run); it was cut off");
        var plan = ScoresResume.Plan(writer.ExistingKeys, allPrompts, prompts.Count, outPath, promptPath ?? modelSpec);
        var done = plan.Done.ToHashSet();
        int todo = prompts.Count - done.Count;
        string beyond = plan.BeyondLimit > 0 ? $" (and {plan.BeyondLimit} beyond --limit {prompts.Count}, kept)" : "";
        Console.Error.WriteLine($"deja detect: {view.Name} ({view.Family.Name()}, id {view.Id}), {run.Method}, {prompts.Count} prompts" +
            (done.Count > 0 || plan.BeyondLimit > 0 ? $", {done.Count} already in {outPath}{beyond}, {todo} to score" : "") +
            $", n = {noise.Generations}, batch {batchSize}, loaded in {clock.Elapsed.TotalSeconds:F1} s");
        if (todo == 0) { Console.Error.WriteLine($"deja detect: nothing to do; {outPath} has every prompt's row"); return ExitCodes.Ok; }

        var progress = new Progress("detect", todo);
        int scored = 0, truncated = 0;
        var work = Stopwatch.StartNew();
        using var interruption = new Interruption("deja detect", "stopping after the batch in flight; the rows written so far are kept");
        foreach (var batch in run.Run(prompts, done))
        {
            var (rows, nonFinite) = NonFiniteScores.Split(batch);
            var scoreRows = rows.Select(r => new ScoreRow
            {
                Index = r.Index, Prompt = r.Prompt, Method = run.Method, Scores = new OrderedDictionary<string, double>(r.Scores),
                Tokens = r.Tokens, Truncated = r.Truncated, ParamsJson = paramsJson, ModelJson = modelJson,
            }).ToList();
            writer.AppendBatch(scoreRows);
            if (nonFinite is not null) throw NonFiniteScores.Error(nonFinite, outPath, writer.Done.Count);
            scored += rows.Count;
            truncated += rows.Count(r => r.Truncated);
            var last = rows[^1].Scores.First();
            progress.Report(scored, $"{last.Key} {last.Value.ToString("0.0000", CultureInfo.InvariantCulture)}", work.Elapsed);
            if (interruption.Requested)
            {
                Console.Error.WriteLine($"deja detect: stopped by {interruption.SignalName} after {scored} of {todo} prompts; " +
                    $"{outPath} keeps its {writer.Done.Count} rows: run the same command to score the rest");
                return interruption.ExitCode;
            }
        }
        Console.Error.WriteLine($"deja detect: wrote {scored} rows to {outPath} in {work.Elapsed.TotalSeconds:F1} s ({work.Elapsed.TotalSeconds / Math.Max(scored, 1):F2} s/prompt)");
        if (truncated > 0)
            Console.Error.WriteLine($"deja detect: {truncated} prompt(s) were longer than the text encoder's {77} tokens and were truncated (\"truncated\": true in their rows)");
        if (view is GaussianMixtureModel truth) PrintAnalyticSummary(truth, ScoresFile.Read(outPath));
        return ExitCodes.Ok;
    }

    /// <summary>The repository's data/ folder (bundled model and benchmark), searched upwards from the binary and the working directory.</summary>
    internal static string? DataFolder(string relative)
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
            {
                var candidate = Path.Combine(d.FullName, "data", relative);
                if (Directory.Exists(candidate)) return candidate;
            }
        return null;
    }

    /// <summary>
    /// `deja detect` with neither --model nor --prompts: the bundled deja-mini model on its benchmark
    /// (memorized vs non-memorized captions measured by deja replicate), then the evaluation table.
    /// </summary>
    static int RunBenchmark(IMemorizationDetector[] detectors, int n, long seed, SeedPolicy policy, int batch, string? givenOutDir)
    {
        var outDir = givenOutDir ?? "deja-mini-detect";
        // Checked first: bare `deja detect` run from a folder that takes no files must say so, not crash.
        OutputPath.CheckFolder(outDir, givenOutDir is null ? "the default output folder (choose another with --out)" : "--out");
        var model = DataFolder(Path.Combine("models", "deja-mini"))
            ?? throw new ArgumentException("the bundled model data/models/deja-mini was not found; give --model DIR --prompts FILE --out FILE");
        var bench = DataFolder(Path.Combine("benchmarks", "deja-mini"))
            ?? throw new ArgumentException("the bundled benchmark data/benchmarks/deja-mini was not found");
        Directory.CreateDirectory(outDir);
        string method = string.Join("+", detectors.Select(d => d.Method));
        string mem = Path.Combine(outDir, $"memorized.{method}.jsonl"), nonmem = Path.Combine(outDir, $"nonmemorized.{method}.jsonl");
        Console.Error.WriteLine($"deja detect: benchmark mode — {model} on {bench} (memorized.txt vs nonmemorized.txt), scores in {outDir}/");
        foreach (var (prompts, scores) in new[] { ("memorized.txt", mem), ("nonmemorized.txt", nonmem) })
        {
            int code = Run(model, Path.Combine(bench, prompts), detectors, n, seed, policy, null, false, batch, scores, null, null, null);
            if (code != ExitCodes.Ok) return code; // interrupted: the next run resumes both files
        }
        var report = ScoreEvaluation.Evaluate(ScoresFile.Read(mem), ScoresFile.Read(nonmem));
        var svg = Path.Combine(outDir, $"roc.{method}.svg");
        RocSvg.Write(svg, [.. report.Columns.Select(c => new RocSeries(c.Column, c.Result.Roc, c.Result.Point.Auc))], title: "deja-mini: memorized vs non-memorized captions");
        Console.WriteLine($"deja-mini benchmark: {report.Columns[0].Result.Positives} memorized vs {report.Columns[0].Result.Negatives} non-memorized captions");
        Console.Write(ScoreEvaluationFormat.Table(report));
        Console.WriteLine($"ROC plot: {svg}");
        return 0;
    }

    /// <summary>For the analytic model the truth is known: AUC of memorized (and template) vs ordinary conditions per column.</summary>
    static void PrintAnalyticSummary(GaussianMixtureModel model, IReadOnlyList<ScoreRow> rows)
    {
        if (rows.Count == 0) return;
        var kind = model.Conditions.ToDictionary(c => c.Prompt, c => c.Kind);
        var columns = rows[0].Scores.Keys.ToList();
        var kinds = rows.Select(r => kind.GetValueOrDefault(r.Prompt)).ToHashSet();
        if (!kinds.Contains(MemorizationKind.Normal) || kinds.Count < 2) return; // nothing to compare against
        Console.WriteLine($"analytic model {model.Name}: planted memorization vs ordinary conditions (AUC)");
        Console.WriteLine($"  {"score",-20} {"memorized",10} {"template",10}");
        foreach (var col in columns)
        {
            double Auc(MemorizationKind k)
            {
                var pos = rows.Where(r => kind.GetValueOrDefault(r.Prompt) == k).Select(r => r.Scores[col]).ToArray();
                var neg = rows.Where(r => kind.GetValueOrDefault(r.Prompt) == MemorizationKind.Normal).Select(r => r.Scores[col]).ToArray();
                if (pos.Length == 0 || neg.Length == 0) return double.NaN;
                return DetectionMetrics.Auc(RocCurve.Compute([.. pos.Select(_ => true), .. neg.Select(_ => false)], [.. pos, .. neg]));
            }
            Console.WriteLine($"  {col,-20} {Auc(MemorizationKind.Memorized),10:F3} {Auc(MemorizationKind.PartiallyMemorized),10:F3}");
        }
    }
}
