using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Deja.Diffusion.Models.UNet;
using Deja.Diffusion.Schedulers;
using Deja.Memorization.Detection;
using Deja.Memorization.Models;
using Deja.Tensors;
using Deja.Tensors.Kernels;

namespace Deja.Cli;

/// <summary>
/// `deja bench detect`: seconds per prompt of each detector on a full-size Stable Diffusion UNet with
/// random weights (no files), n generations, for each batch size — the cost comparison of the papers
/// (magnitude 0.40 s, anisotropy 1.10 s, sharpness 5.40 s per prompt on a GPU with SD1.4). Text
/// encoding is excluded (random conditions): it is the same for every method (`deja bench text`).
/// </summary>
public static class DetectBench
{
    public static Command Command()
    {
        var config = new Option<string>("--config") { Description = "sd1 (64x64 latents, context 768) or sd2 (96x96 v-prediction, context 1024)", DefaultValueFactory = _ => "sd1" };
        var batch = new Option<string>("--batch") { Description = "Comma-separated prompts per batch to measure", DefaultValueFactory = _ => "1,8" };
        var methods = new Option<string>("--methods") { Description = "Comma-separated detectors", DefaultValueFactory = _ => "magnitude,anisotropy,sharpness" };
        var n = new Option<int>("--n") { Description = "Generations (noise draws) per prompt", DefaultValueFactory = _ => 1 };
        var policy = new Option<string>("--seed-policy") { Description = "same (one noise for all prompts: the unconditional pass is shared) or index", DefaultValueFactory = _ => "same" };
        var json = new Option<bool>("--json") { Description = "JSON lines instead of a table" };
        var cmd = new Command("detect", "Benchmark the detectors' cost per prompt on a full-size UNet\n\nExample: deja bench detect --config sd1 --batch 1,8 --n 1") { config, batch, methods, n, policy, json };
        cmd.SetAction(pr => Run(pr.GetValue(config)!, pr.GetValue(batch)!, pr.GetValue(methods)!, pr.GetValue(n), pr.GetValue(policy)!, pr.GetValue(json)));
        return cmd;
    }

    static int Run(string which, string batchList, string methodList, int n, string policyName, bool json)
    {
        var (config, prediction) = which switch
        {
            "sd1" => (UNetPresets.StableDiffusion1(), PredictionType.Epsilon),
            "sd2" => (UNetPresets.StableDiffusion2(), PredictionType.VPrediction),
            _ => throw new ArgumentException($"bench detect: --config must be sd1 or sd2, got '{which}'"),
        };
        var batches = batchList.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(b => int.TryParse(b, out int v) && v >= 1 ? v : throw new ArgumentException($"bench detect: bad batch size '{b}'")).ToArray();
        var detectors = methodList.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(DetectorOptions.Default).ToArray();
        if (n < 1) throw new ArgumentException($"bench detect: --n must be at least 1, got {n}");
        var policy = DetectorOptions.ParsePolicy(policyName);
        Console.Error.WriteLine($"threads {Threading.Threads}, BLAS {(Blas.Available ? Blas.LibraryPath : "none")}, kernels {Blas.CoreName}");

        BenchTimer.Isolate();
        var g = new Generator(1);
        var unet = new UNet2DConditionModel(config, g);
        unet.SetRequiresGrad(false);
        unet.Eval();
        var view = new RandomUNetView(unet, prediction, config.SampleSize ?? 64, config.CrossAttentionDim[0], which);
        Console.Error.WriteLine($"built {which} UNet ({unet.ParameterCount() / 1e6:F1} M parameters), RSS {BenchTimer.RssMb():F0} MB");
        // warm-up: one small forward so that first-touch page faults and JIT are not timed
        new MagnitudeDetector().Score(view, Batch(view, 1, n, policy, g));

        var rows = new List<(string Method, int Batch, double PerPrompt, double Total)>();
        foreach (int b in batches)
            foreach (var det in detectors)
            {
                var batch = Batch(view, b, n, policy, g);
                var sw = Stopwatch.StartNew();
                det.Score(view, batch);
                double secs = sw.Elapsed.TotalSeconds;
                rows.Add((det.Method, b, secs / b, secs));
                Console.Error.WriteLine($"  {det.Method,-10} batch {b,2}: {secs:F2} s ({secs / b:F2} s/prompt), peak RSS {BenchTimer.PeakRssMb():F0} MB");
            }

        double Per(string m, int b) => rows.FirstOrDefault(r => r.Method == m && r.Batch == b).PerPrompt;
        if (json)
        {
            foreach (var r in rows)
                Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["name"] = $"detect_{r.Method}_{which}", ["batch"] = r.Batch, ["n"] = n, ["seed_policy"] = policyName,
                    ["seconds_per_prompt"] = Math.Round(r.PerPrompt, 3), ["seconds"] = Math.Round(r.Total, 3), ["threads"] = Threading.Threads,
                }));
            return 0;
        }
        Console.WriteLine($"detect cost, {which} UNet (random weights), n = {n}, seed policy {policyName}, {Threading.Threads} threads; seconds per prompt");
        Console.WriteLine($"  {"method",-11}" + string.Concat(batches.Select(b => $"{"batch " + b,10}")));
        foreach (var det in detectors)
            Console.WriteLine($"  {det.Method,-11}" + string.Concat(batches.Select(b => $"{Per(det.Method, b),10:F2}")));
        foreach (int b in batches)
        {
            double m = Per("magnitude", b), a = Per("anisotropy", b), s = Per("sharpness", b);
            if (a > 0 && s > 0 && m > 0)
                Console.WriteLine($"  batch {b}: sharpness/anisotropy {s / a:F2} (papers 4.9), anisotropy/magnitude {a / m:F2} (papers 2.75)");
        }
        Console.WriteLine($"  peak RSS {BenchTimer.PeakRssMb():F0} MB");
        return 0;
    }

    static PromptBatch Batch(IDiffusionModelView view, int prompts, int n, SeedPolicy policy, Generator g)
    {
        var noise = InitialNoise.Seeded(view.LatentShape, n, 51, policy);
        using var enc = view.Encode(Enumerable.Range(0, prompts).Select(i => $"prompt {i}").ToArray());
        var conditions = Tensor.FromArray(enc.Conditions.ReadOnlySpan, enc.Conditions.Shape);
        return new PromptBatch(conditions, view.NullCondition(), Enumerable.Range(0, prompts).Select(noise.For).ToArray(), enc.TokenCounts);
    }

    /// <summary>A random-weight UNet behind the methods' view; conditions are random text states.</summary>
    internal sealed class RandomUNetView(UNet2DConditionModel unet, PredictionType prediction, int size, int context, string name) : IDiffusionModelView
    {
        readonly Generator text = new(7);
        public string Name => $"random-{name}";
        public string Id => $"random-{name}";
        public ModelFamily Family => prediction == PredictionType.VPrediction ? ModelFamily.SD2 : ModelFamily.SD1;
        public Ddim Scheduler { get; } = Ddim.StableDiffusion(prediction);
        public int[] LatentShape => [4, size, size];
        public EncodedConditions Encode(IReadOnlyList<string> prompts) =>
            new(Tensor.RandN(text, prompts.Count, 77, context), new int[prompts.Count], new bool[prompts.Count]);
        public Tensor NullCondition() => Tensor.RandN(new Generator(3), 1, 77, context);
        public Tensor Forward(Tensor latents, int t, Tensor conditions) => unet.Forward(latents, t, conditions);
    }
}
