using System.CommandLine;
using System.Globalization;
using Deja.Diffusion.Text;
using Deja.Memorization.Detection;
using Deja.Memorization.Mitigation;
using Deja.Memorization.Models;
using Deja.Tensors;

namespace Deja.Cli;

/// <summary>
/// `deja mitigate`: generate without the copy. Runs one mitigation (Wen's prompt-embedding optimization
/// or the random-token baseline; `none` for the un-mitigated comparison row) per prompt on the same
/// initial noise generation uses, generates the n images, and writes them with one JSON row per prompt
/// and generation (MitigationOutput). Resumable: rerun the same command to continue.
/// </summary>
public static class MitigateCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "Pipeline folder (diffusers layout; default: the bundled deja-mini)" };
        var prompts = new Option<string?>("--prompts") { Description = "Prompt file: one prompt per line, or JSONL with a prompt/caption field" };
        var prompt = new Option<string?>("--prompt") { Description = "One prompt (instead of --prompts)" };
        var method = new Option<string>("--method") { Description = "prompt (Wen et al.'s embedding optimization), random-tokens (Wen's baseline), sail (Jeon et al.'s initial-noise optimization), prompt-anisotropy (Asthana's prompt adaptation, reconstructed: the same optimizer on the anisotropy score), or none (plain generation)", DefaultValueFactory = _ => "prompt" };
        var output = new Option<string>("--out") { Description = "Folder for images/ and mitigate.jsonl (resumed when it holds rows of the same run)", Required = true };
        var n = new Option<int>("--n") { Description = "Generations per prompt", DefaultValueFactory = _ => 4 };
        var seed = new Option<long>("--seed") { Description = "Seed of the initial noise (Wen: prompt index + seed, offset 0)", DefaultValueFactory = _ => 0 };
        var policy = new Option<string>("--seed-policy") { Description = "index: seed = prompt index + --seed (Wen's policy); same: one seed for every prompt", DefaultValueFactory = _ => "index" };
        var latents = new Option<string?>("--latents") { Description = "safetensors file with x_T: [n,C,H,W] for all prompts, or [prompts,n,C,H,W]" };
        var latentsPerPrompt = new Option<bool>("--latents-per-prompt") { Description = "Read a 4-D --latents tensor as [prompts,C,H,W]" };
        var steps = new Option<int>("--steps") { Description = "DDIM steps of generation (the optimization's loss is taken at the first one)", DefaultValueFactory = _ => 50 };
        var guidance = new Option<double>("--guidance") { Description = "Classifier-free guidance scale", DefaultValueFactory = _ => 7.5 };
        var family = new Option<string?>("--family") { Description = "Model family: sd1, sd2 or rv (default: from the prediction type)" };
        var limit = new Option<int?>("--limit") { Description = "Mitigate only the first N prompts" };
        // prompt
        var lr = new Option<double>("--lr") { Description = "prompt: AdamW learning rate", DefaultValueFactory = _ => 0.05 };
        var decay = new Option<double>("--weight-decay") { Description = "prompt: AdamW weight decay (decoupled; reaches every position)", DefaultValueFactory = _ => 0.01 };
        var iterations = new Option<int>("--iterations") { Description = "prompt: most AdamW updates", DefaultValueFactory = _ => 10 };
        var target = new Option<double?>("--target-loss") { Description = "prompt: stop once ‖ε_c − ε_∅‖ over the n images ≤ this (Wen: 3 for SD1 at n = 4; deja-mini: see the README); default none: all iterations" };
        var ball = new Option<double?>("--epsilon-ball") { Description = "prompt: ε-ball radius on the mean per-token distance to the original embedding (default off)" };
        var alpha = new Option<double>("--alpha") { Description = "prompt: weight of the noise loss against the distance outside the ε-ball", DefaultValueFactory = _ => 0.5 };
        // random tokens
        var kind = new Option<string>("--kind") { Description = "random-tokens: rand_word_add, rand_numb_add or rand_word_repeat", DefaultValueFactory = _ => "rand_word_add" };
        var repeat = new Option<int>("--repeat") { Description = "random-tokens: words inserted (Wen: 4 at inference)", DefaultValueFactory = _ => 4 };
        var tokenSeed = new Option<long>("--token-seed") { Description = "random-tokens: seed of the draws (prompt i: seed + i)", DefaultValueFactory = _ => 0 };
        // prompt-anisotropy
        var stop = new Option<double?>("--stop-threshold") { Description = "prompt-anisotropy: stop once the anisotropy score ≤ this (e.g. the detection threshold of deja calibrate); default none: all iterations" };
        // sail
        var threshold = new Option<double?>("--accept-threshold") { Description = "sail: ℓ_thres, accept a candidate once its loss ≤ this (default 8.2, tuned for SD1 only; the bundled deja-mini: its own measured value, see the README)" };
        var budget = new Option<int>("--budget") { Description = "sail: candidates optimized at once (B)", DefaultValueFactory = _ => 8 };
        var sailSteps = new Option<int>("--sail-steps") { Description = "sail: Adam steps per round", DefaultValueFactory = _ => 10 };
        var maxRounds = new Option<int>("--max-rounds") { Description = "sail: most rounds; then the lowest-loss candidates fill the rest (the reference has no cap)", DefaultValueFactory = _ => 30 };
        var lambda = new Option<double?>("--lambda") { Description = "sail: gaussianity weight λ (default 0.05 for SD1, 0.01 for SD2)" };
        var faithful = new Option<bool>("--faithful-code") { Description = "sail: the reference code's behaviour (stale direction, SD1 sign +Δε, seeds reused in rounds 1–2 of three: duplicate latents)" };
        var noScore = new Option<bool>("--no-score") { Description = "Skip the anisotropy score before and after (2 model calls each)" };
        var json = new Option<bool>("--json") { Description = "Also print every row on stdout" };
        // sweep
        var sweep = new Option<string[]>("--sweep") { Description = "Run METHOD over strengths instead of one --method (repeatable): METHOD or METHOD:S1,S2,… — prompt: --target-loss (default 1,2,3,4,5), random-tokens: --repeat (1,2,4,6,8), sail: --accept-threshold (deja-mini: 4,4.5,5,5.3), prompt-anisotropy: --stop-threshold (deja-mini: 0.5,1,1.5,2,3); each point in OUT/METHOD-S/ (resumable), measured by replication and caption fidelity into OUT/sweep.jsonl, sweep.csv and sweep.svg" };
        var data = new Option<string?>("--data") { Description = "sweep: the training set replication is measured against (a deja synth folder; the bundled deja-mini's: deja synth --out DIR --seed 0)" };
        var judgeDir = new Option<string?>("--judge") { Description = "sweep: the caption-fidelity judge (default: the bundled data/models/deja-judge)" };
        var noBaseline = new Option<bool>("--no-baseline") { Description = "sweep: skip the un-mitigated point (method none)" };
        var cmd = new Command("mitigate", "Generate without copying: mitigate memorization per prompt and generate (Wen et al.'s prompt-embedding optimization and random tokens, Asthana's prompt adaptation, Jeon et al.'s SAIL)\n\n" +
            "Example: deja mitigate --prompts data/benchmarks/deja-mini/memorized.txt --limit 4 --method prompt --out mitigated\n" +
            "Sweep:   deja mitigate --prompts verbatim.txt --sweep prompt:1,2,3 --sweep random-tokens:1,4,8 --data synth --n 2 --out sweep")
        {
            model, prompts, prompt, method, output, n, seed, policy, latents, latentsPerPrompt, steps, guidance, family, limit,
            lr, decay, iterations, target, ball, alpha, kind, repeat, tokenSeed, stop, threshold, budget, sailSteps, maxRounds, lambda, faithful, noScore, json,
            sweep, data, judgeDir, noBaseline,
        };
        cmd.SetAction(pr =>
        {
            if ((pr.GetValue(prompts) is null) == (pr.GetValue(prompt) is null)) throw new DejaException("mitigate: give exactly one of --prompt TEXT and --prompts FILE");
            if (pr.GetValue(prompt) is { } one && string.IsNullOrWhiteSpace(one)) throw new DejaException("mitigate: --prompt is empty");
            int count = pr.GetValue(n);
            if (count < 1) throw new DejaException($"mitigate: --n must be at least 1, got {count}");
            if (pr.GetValue(latents) is not null && pr.GetResult(n) is { Implicit: false }) throw new DejaException("mitigate: --n is taken from the --latents file; do not give both");
            if (pr.GetValue(limit) is < 1) throw new DejaException($"mitigate: --limit must be at least 1, got {pr.GetValue(limit)}");
            string outDir = pr.GetValue(output)!;
            OutputPath.CheckFolder(outDir, "--out");
            var sweeps = pr.GetValue(sweep) ?? [];
            if (sweeps.Length > 0 && pr.GetResult(method) is { Implicit: false }) throw new DejaException("mitigate: give either --method (one run) or --sweep (runs over strengths), not both");
            if (sweeps.Length > 0 && pr.GetValue(data) is null) throw new DejaException("mitigate: --sweep needs --data SYNTH, the training set replication is measured against (the bundled deja-mini's: deja synth --out SYNTH --seed 0)");
            if (sweeps.Length == 0 && (pr.GetValue(data) is not null || pr.GetValue(judgeDir) is not null || pr.GetValue(noBaseline)))
                throw new DejaException("mitigate: --data, --judge and --no-baseline belong to --sweep");
            var methodValue = MitigationRun.ParseMethod(pr.GetValue(method)!);
            var optimization = new PromptEmbeddingOptimization
            {
                LearningRate = pr.GetValue(lr), WeightDecay = pr.GetValue(decay), Iterations = pr.GetValue(iterations),
                TargetLoss = methodValue == MitigationMethod.PromptAnisotropy ? pr.GetValue(stop) : pr.GetValue(target), EpsilonBall = pr.GetValue(ball), Alpha = pr.GetValue(alpha), Steps = pr.GetValue(steps),
            };
            var tokens = new RandomTokenAugmentation { Kind = RandomTokenAugmentation.ParseKind(pr.GetValue(kind)!), Repeat = pr.GetValue(repeat) };
            optimization.Validate(); tokens.Validate();

            string modelDir = pr.GetValue(model) ?? DetectCommand.DataFolder(Path.Combine("models", "deja-mini"))
                ?? throw new DejaException("mitigate: the bundled deja-mini was not found; give --model");
            if (modelDir.StartsWith("analytic", StringComparison.Ordinal))
                throw new DejaException("mitigate: generation needs a pipeline folder (the analytic model has no images)");
            var view = (StableDiffusionView)DetectCommand.OpenModel(modelDir, pr.GetValue(family), null);
            var all = pr.GetValue(prompt) is { } single ? [single] : PromptFile.Read(pr.GetValue(prompts)!).Prompts.Select(p => p.Text).ToList();
            var list = pr.GetValue(limit) is { } l && l < all.Count ? all.Take(l).ToList() : all;
            var noise = pr.GetValue(latents) is { } path
                ? InitialNoise.FromFile(path, view.LatentShape, list.Count, pr.GetValue(latentsPerPrompt))
                : InitialNoise.Seeded(view.LatentShape, count, pr.GetValue(seed), DetectorOptions.ParsePolicy(pr.GetValue(policy)!));
            var sail = new Sail
            {
                Threshold = pr.GetValue(threshold) ?? SailDefaults.Threshold(view), LearningRate = pr.GetValue(lr), Budget = pr.GetValue(budget),
                StepsPerRound = pr.GetValue(sailSteps), MaxRounds = pr.GetValue(maxRounds), Lambda = pr.GetValue(lambda),
                FaithfulCode = pr.GetValue(faithful), Steps = pr.GetValue(steps),
            };
            var run = new MitigationRun
            {
                Sail = sail,
                Model = view, Noise = noise, Method = methodValue, Prompt = optimization, RandomTokens = tokens,
                TokenSeed = pr.GetValue(tokenSeed), Steps = pr.GetValue(steps), Guidance = pr.GetValue(guidance),
                Scorer = pr.GetValue(noScore) ? null : new AnisotropyDetector(),
            };
            if (sweeps.Length > 0)
                return MitigateSweep.Run(run, [.. sweeps.Select(x => SweepCurve.Parse(x, view))], !pr.GetValue(noBaseline), list, outDir, pr.GetValue(data)!, pr.GetValue(judgeDir));
            return Run(run, list, outDir, pr.GetValue(json));
        });
        return cmd;
    }

    static int Run(MitigationRun run, IReadOnlyList<string> prompts, string outDir, bool json)
    {
        var output = new MitigationOutput(outDir, run.Model, run.Parameters());
        int done = output.CompletePrompts(prompts, run.Noise.Generations);
        string[] left = [.. new[] {
            output.DroppedBytes > 0 ? $"a partial line of {output.DroppedBytes} bytes" : null,
            output.DroppedRows > 0 ? $"{output.DroppedRows} row(s) of an unfinished prompt" : null }.OfType<string>()];
        if (left.Length > 0)
            Console.Error.WriteLine($"deja mitigate: {output.RowsPath} held what an interrupted run left ({string.Join(", ", left)}); removed, that prompt is generated again");
        Console.Error.WriteLine($"deja mitigate: {run.Model.Name} (id {run.Model.Id}), {MitigationRun.MethodName(run.Method)}, " +
            $"{prompts.Count} prompt(s), n = {run.Noise.Generations}, {run.Steps} steps{(done > 0 ? $"; resuming after {done} complete prompt(s)" : "")}");
        var progress = new Progress("mitigate", prompts.Count);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int met = 0, written = 0, judged = 0;
        var notConverged = new List<int>();
        double before = 0, after = 0;
        int scored = 0;
        foreach (var result in run.Run(prompts, done))
        {
            var rows = output.Write(result);
            written++;
            if (result.StopCriterionMet is { } reached)
            {
                judged++;
                if (reached) met++; else notConverged.Add(result.Index);
            }
            if (result.ScoreBefore is { } b && result.ScoreAfter is { } a) { before += b; after += a; scored++; }
            if (json) foreach (var row in rows) Console.WriteLine(row.ToJsonString());
            progress.Report(result.Index + 1, $"loss {(result.Losses.Count > 0 ? result.Losses[^1].ToString("0.###", CultureInfo.InvariantCulture) : "-")}", clock.Elapsed);
        }
        // every prompt whose method has a stop criterion (a target loss, a stop threshold, SAIL's acceptance)
        // and did not reach it still has its images and rows; the summary counts and names them
        string stop = judged == 0 ? "" : $"; stop criterion met by {met} of {judged}" + (notConverged.Count == 0 ? "" :
            $", not converged: {notConverged.Count} (prompt index {string.Join(", ", notConverged.Take(10))}{(notConverged.Count > 10 ? ", …" : "")}; rows carry \"stop_criterion_met\": false)");
        string scores = scored > 0
            ? $"; mean anisotropy {(before / scored).ToString("0.###", CultureInfo.InvariantCulture)} before, {(after / scored).ToString("0.###", CultureInfo.InvariantCulture)} after" : "";
        Console.Error.WriteLine($"deja mitigate: {written} prompt(s) in {clock.Elapsed.TotalSeconds:F1} s ({(written > 0 ? clock.Elapsed.TotalSeconds / written : 0):F2} s per prompt){stop}{scores}; rows in {output.RowsPath}");
        return ExitCodes.Ok;
    }
}
