using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Deja.Diffusion.Models.UNet;
using Deja.Diffusion.Pipelines;
using Deja.Diffusion.Schedulers;
using Deja.Memorization.Detection;
using Deja.Memorization.Mitigation;
using Deja.Memorization.Models;
using Deja.Tensors;
using Deja.Tensors.Kernels;

namespace Deja.Cli;

/// <summary>
/// `deja bench mitigate` (issue 14 §Speed): what one optimization iteration of each mitigation costs —
/// prompt (Wen: loss and gradient w.r.t. the text embedding at t = 981), prompt-anisotropy (the same
/// optimizer on the anisotropy score: two timesteps), sail (one Adam step of B candidates, the direction
/// refreshed with gradient through it) — and a CFG generation step, from which seconds per prompt at the
/// defaults follow: prompt ≈ t_setup + k·t_iter + 50·t_step (+ decode), k ≤ 10 updates; sail ≈
/// E·t_step(B) + 50·t_step, E the Adam steps until n candidates are accepted. `--config sd1`: a full-size
/// SD1 UNet with random weights (no files; random text states); `--config mini`: the bundled deja-mini,
/// plus its measured seconds per prompt of every method at the defaults (n = 4, 50 steps) on the first
/// benchmark captions. Each iteration is timed by a loss wrapper that notes when the optimizer asks for
/// the loss (so forward, backward and the AdamW update are all inside the interval).
/// </summary>
static class MitigateBench
{
    public static Command Command()
    {
        var config = new Option<string>("--config") { Description = "sd1 (full-size SD1 UNet, random weights, 64×64 latents) or mini (the bundled deja-mini)", DefaultValueFactory = _ => "sd1" };
        var n = new Option<int>("--n") { Description = "Generations per prompt the optimizations run on jointly", DefaultValueFactory = _ => 1 };
        var iterations = new Option<int>("--iterations") { Description = "Timed iterations per method (their mean is reported)", DefaultValueFactory = _ => 3 };
        var budget = new Option<int?>("--sail-budget") { Description = "SAIL candidates B per Adam step (default: 8, the method's default, on mini; 1 on sd1, whose cost grows linearly in B)" };
        var prompts = new Option<int>("--prompts") { Description = "mini: benchmark captions whose seconds per prompt are measured per method (0: skip)", DefaultValueFactory = _ => 2 };
        var json = new Option<bool>("--json") { Description = "One JSON object on stdout" };
        var cmd = new Command("mitigate", "Benchmark the mitigations: seconds per optimization iteration (prompt, prompt-anisotropy, sail) and per generation step, peak RSS; on deja-mini also seconds per prompt\n\n" +
            "Example: deja bench mitigate --config mini   (or --config sd1: minutes, and 9 GB at the SAIL step)") { config, n, iterations, budget, prompts, json };
        cmd.SetAction(pr => Run(pr.GetValue(config)!, pr.GetValue(n), pr.GetValue(iterations), pr.GetValue(budget), pr.GetValue(prompts), pr.GetValue(json)));
        return cmd;
    }

    /// <summary>Notes the time each loss evaluation starts: one per optimizer iteration.</summary>
    sealed class TimedLoss(EmbeddingLoss inner, Clock clock) : EmbeddingLoss
    {
        public List<(double Wall, double Cpu)> Starts { get; } = [];
        public override Tensor Evaluate(Tensor embedding)
        {
            Starts.Add(clock.Now);
            return inner.Evaluate(embedding);
        }
        public override void Dispose() => inner.Dispose();
    }

    /// <summary>
    /// Wall seconds and this process's CPU seconds since a restart. On a shared machine the wall time
    /// grows with the other load; CPU seconds ÷ threads is close to what an idle machine's wall time is.
    /// </summary>
    sealed class Clock
    {
        readonly Stopwatch wall = new();
        TimeSpan cpu0;
        public void Restart() { cpu0 = Process.GetCurrentProcess().TotalProcessorTime; wall.Restart(); }
        public (double Wall, double Cpu) Now => (wall.Elapsed.TotalSeconds, (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds);
    }

    static JsonObject Time((double Wall, double Cpu) t, int count = 1) => new() { ["wall_s"] = Round(t.Wall / count), ["cpu_s"] = Round(t.Cpu / count) };

    static int Run(string which, int n, int iterations, int? sailBudget, int promptCount, bool json)
    {
        if (n < 1) throw new DejaException($"bench mitigate: --n must be at least 1, got {n}");
        if (iterations < 1) throw new DejaException($"bench mitigate: --iterations must be at least 1, got {iterations}");
        if (sailBudget is < 1) throw new DejaException($"bench mitigate: --sail-budget must be at least 1, got {sailBudget}");
        if (promptCount < 0) throw new DejaException($"bench mitigate: --prompts must not be negative, got {promptCount}");
        Console.Error.WriteLine($"threads {Threading.Threads}, BLAS {(Blas.Available ? Blas.LibraryPath : "none")}, kernels {Blas.CoreName}");
        BenchTimer.Isolate();
        IDiffusionModelView view;
        StableDiffusionView? mini = null;
        switch (which)
        {
            case "sd1":
                var unetConfig = UNetPresets.StableDiffusion1();
                var unet = new UNet2DConditionModel(unetConfig, new Generator(1));
                unet.SetRequiresGrad(false);
                unet.Eval();
                view = new DetectBench.RandomUNetView(unet, PredictionType.Epsilon, unetConfig.SampleSize ?? 64, unetConfig.CrossAttentionDim[0], "sd1");
                Console.Error.WriteLine($"built sd1 UNet ({unet.ParameterCount() / 1e6:F1} M parameters, random weights), RSS {BenchTimer.RssMb():F0} MB");
                break;
            case "mini":
                string dir = DetectCommand.DataFolder(Path.Combine("models", "deja-mini")) ?? throw new DejaException("bench mitigate: the bundled deja-mini was not found");
                view = mini = new StableDiffusionView(StableDiffusionPipeline.Load(dir));
                Console.Error.WriteLine($"loaded {dir} (id {view.Id}), RSS {BenchTimer.RssMb():F0} MB");
                break;
            default: throw new DejaException($"bench mitigate: --config must be sd1 or mini, got '{which}'");
        }
        int budget = sailBudget ?? (which == "mini" ? 8 : 1);
        using var nullCondition = view.NullCondition();
        using var encoded = view.Encode(["a large red circle at the top and a small blue cross at the center on a dotted purple background"]);
        var condition = encoded.Conditions;
        var latents = InitialNoise.Seeded(view.LatentShape, n, 0, SeedPolicy.Same).For(0);
        int t = view.Scheduler.Timesteps(50)[0]; // t₀ = 981, the loss timestep of prompt and SAIL
        var result = new JsonObject { ["name"] = $"mitigate_{which}", ["n"] = n, ["threads"] = Threading.Threads, ["latent"] = string.Join("x", view.LatentShape) };

        // One CFG generation step (batch 2n, no gradient): 50 of them are the generation every method ends with.
        var clock = new Clock();
        clock.Restart();
        using (GradMode.NoGrad())
        using (TensorScope.Enter())
        {
            view.Forward(Ops.Concat([latents, latents], 0), t, Ops.Concat([.. Enumerable.Repeat(nullCondition, n), .. Enumerable.Repeat(condition, n)], 0)); // warm-up
            clock.Restart();
            view.Forward(Ops.Concat([latents, latents], 0), t, Ops.Concat([.. Enumerable.Repeat(nullCondition, n), .. Enumerable.Repeat(condition, n)], 0));
        }
        var stepTime = clock.Now;
        double step = stepTime.Wall;
        result["generation_step"] = Time(stepTime);
        Console.Error.WriteLine($"  generation step (CFG, batch {2 * n}): {step:F3} s ({stepTime.Cpu:F3} CPU s), peak RSS {BenchTimer.PeakRssMb():F0} MB");

        var optimizer = new PromptEmbeddingOptimization { Iterations = iterations };
        foreach (var method in new[] { "prompt", "prompt-anisotropy" })
        {
            BenchTimer.Isolate();
            clock.Restart();
            EmbeddingLoss inner = method == "prompt" ? new NoiseDifferenceLoss(view, nullCondition, latents, t) : new AnisotropyLoss(view, new AnisotropyDetector(), nullCondition, latents);
            using var timed = new TimedLoss(inner, clock);
            var optimized = optimizer.Optimize(view, condition, nullCondition, latents, timed);
            var end = clock.Now;
            var setup = timed.Starts[0];
            int count = timed.Starts.Count;
            var loop = (end.Wall - setup.Wall, end.Cpu - setup.Cpu);
            optimized.Dispose();
            double peak = BenchTimer.PeakRssMb();
            result[method] = new JsonObject { ["setup"] = Time(setup), ["iteration"] = Time(loop, count), ["iterations"] = count, ["peak_rss_mb"] = Math.Round(peak) };
            Console.Error.WriteLine($"  {method,-18} setup {setup.Wall:F3} s, {loop.Item1 / count:F3} s ({loop.Item2 / count:F3} CPU s) per iteration ({count} timed), peak RSS {peak:F0} MB");
        }
        {
            BenchTimer.Isolate();
            // No candidate can be accepted (threshold −1 < every loss): exactly `iterations` Adam steps of B candidates.
            var sail = new Sail { Threshold = -1, Budget = budget, StepsPerRound = iterations, MaxRounds = 1 };
            clock.Restart();
            var found = sail.Find(view, condition, nullCondition, n, 0);
            var total = clock.Now;
            found.Dispose();
            double peak = BenchTimer.PeakRssMb();
            result["sail"] = new JsonObject { ["budget"] = budget, ["setup"] = Time((0, 0)), ["iteration"] = Time(total, found.Evaluations), ["iterations"] = found.Evaluations, ["peak_rss_mb"] = Math.Round(peak) };
            Console.Error.WriteLine($"  {"sail",-18} {total.Wall / found.Evaluations:F3} s ({total.Cpu / found.Evaluations:F3} CPU s) per Adam step of B = {budget} candidates ({found.Evaluations} timed), peak RSS {peak:F0} MB");
        }

        if (mini is not null && promptCount > 0) result["seconds_per_prompt"] = PerPrompt(mini, promptCount);
        result["peak_rss_mb"] = Math.Round(BenchTimer.PeakRssMb());
        if (json) { Console.WriteLine(result.ToJsonString()); return ExitCodes.Ok; }
        Print(result, which, n, budget);
        return ExitCodes.Ok;
    }

    /// <summary>deja-mini: every method at its defaults (n = 4, 50 steps, guidance 7.5, scores before and after) on the first benchmark captions.</summary>
    static JsonObject PerPrompt(StableDiffusionView view, int count)
    {
        string bench = DetectCommand.DataFolder(Path.Combine("benchmarks", "deja-mini")) ?? throw new DejaException("bench mitigate: the bundled benchmark data/benchmarks/deja-mini was not found");
        var prompts = File.ReadLines(Path.Combine(bench, "memorized.txt")).Where(l => l.Trim().Length > 0).Take(count).ToList();
        var noise = InitialNoise.Seeded(view.LatentShape, 4, 0, SeedPolicy.Index);
        var o = new JsonObject();
        foreach (var method in new[] { MitigationMethod.None, MitigationMethod.Prompt, MitigationMethod.PromptAnisotropy, MitigationMethod.RandomTokens, MitigationMethod.Sail })
        {
            var run = new MitigationRun { Model = view, Noise = noise, Method = method, Sail = new Sail { Threshold = SailDefaults.Threshold(view) } };
            var clock = new Clock();
            clock.Restart();
            var seconds = run.Run(prompts).Select(r => r.Seconds).ToList();
            var total = clock.Now;
            o[MitigationRun.MethodName(method)] = Time(total, prompts.Count);
            Console.Error.WriteLine($"  {MitigationRun.MethodName(method),-18} {total.Wall / prompts.Count:F2} s ({total.Cpu / prompts.Count:F2} CPU s) per prompt ({string.Join(", ", seconds.Select(s => s.ToString("F1", CultureInfo.InvariantCulture)))})");
        }
        return o;
    }

    static void Print(JsonObject r, string which, int n, int budget)
    {
        double step = (double)r["generation_step"]!["wall_s"]!;
        double P(string m, string f) => f == "peak_rss_mb" ? (double)r[m]![f]! : (double)r[m]![f.Replace("_s", "")]!["wall_s"]!;
        double C(string m) => (double)r[m]!["iteration"]!["cpu_s"]!;
        Console.WriteLine($"mitigation cost, {(which == "sd1" ? "SD1 UNet (random weights), 64×64 latents" : "deja-mini")}, n = {n}, {r["threads"]} threads");
        Console.WriteLine($"  {"method",-18} {"s / iteration",14} {"CPU s / it.",12} {"setup s",8} {"peak RSS MB",12}");
        foreach (var m in new[] { "prompt", "prompt-anisotropy", "sail" })
            Console.WriteLine($"  {(m == "sail" ? $"sail (B = {budget})" : m),-18} {P(m, "iteration_s"),14:F3} {C(m),12:F3} {(m == "sail" ? "-" : P(m, "setup_s").ToString("F3", CultureInfo.InvariantCulture)),8} {P(m, "peak_rss_mb"),12:F0}");
        Console.WriteLine($"  generation step (CFG, batch {2 * n}): {step:F3} s ({(double)r["generation_step"]!["cpu_s"]!:F3} CPU s); 50 steps: {50 * step:F1} s (VAE decode not included: deja bench vae)");
        Console.WriteLine("  seconds per prompt at the defaults (≤ 10 updates, 50 DDIM steps; the optimizations run on the n images jointly, so at SD size each term grows about linearly with n):");
        Console.WriteLine($"    prompt            ≈ {P("prompt", "setup_s"):F2} + k × {P("prompt", "iteration_s"):F2} + 50 × {step:F2}   (k ≤ 10 updates until --target-loss; k = 10: {P("prompt", "setup_s") + 10 * P("prompt", "iteration_s") + 50 * step:F1} s)");
        Console.WriteLine($"    prompt-anisotropy ≈ {P("prompt-anisotropy", "setup_s"):F2} + k × {P("prompt-anisotropy", "iteration_s"):F2} + 50 × {step:F2}   (k = 10: {P("prompt-anisotropy", "setup_s") + 10 * P("prompt-anisotropy", "iteration_s") + 50 * step:F1} s)");
        Console.WriteLine($"    sail              ≈ E × {P("sail", "iteration_s"):F2} + 50 × {step:F2}   (E Adam steps of B = {budget} until n candidates are accepted, ≤ 30 rounds × 10; E = 10: {10 * P("sail", "iteration_s") + 50 * step:F1} s)");
        Console.WriteLine($"    random-tokens, none ≈ 50 × {step:F2} = {50 * step:F1} s   (plus 2 × 2 UNet calls for the anisotropy score before and after, unless --no-score)");
        if (r["seconds_per_prompt"] is JsonObject measured)
            Console.WriteLine("  measured on deja-mini (n = 4, defaults, scores included), s per prompt (CPU s): " +
                string.Join(", ", measured.Select(kv => $"{kv.Key} {(double)kv.Value!["wall_s"]!:F2} ({(double)kv.Value!["cpu_s"]!:F2})")));
        Console.WriteLine($"  peak RSS {r["peak_rss_mb"]} MB");
    }

    static double Round(double v) => Math.Round(v, 4);
}
