using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Deja.Diffusion.Data;
using Deja.Diffusion.Pipelines;
using Deja.Diffusion.Training;
using Deja.Memorization.Mitigation;
using Deja.Memorization.Replication;
using Deja.Tensors;

namespace Deja.Cli;

/// <summary>
/// `deja replicate`: ground truth by measurement. Generates n images per caption of a synthetic dataset
/// (planted verbatim and template captions, and held-out ones) and labels a caption memorized when a
/// generation falls within a threshold of its nearest training image (template captions: on the
/// template region, against their brand's images). Writes the memorized / non-memorized prompt lists
/// the detection benchmark uses, every caption's distances, and the replication rates per kind.
/// </summary>
public static class ReplicateCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "Model folder (diffusers layout) to generate with" };
        var data = new Option<string>("--data") { Description = "Dataset folder made by deja synth", Required = true };
        var output = new Option<string>("--out") { Description = "Folder for memorized.txt, nonmemorized.txt, replicate.jsonl and masks/", Required = true };
        var n = new Option<int>("--n") { Description = "Generations per caption", DefaultValueFactory = _ => 4 };
        var seed = new Option<long>("--seed") { Description = "Seed of generation j: seed + j (the same for every caption)", DefaultValueFactory = _ => 0L };
        var steps = new Option<int>("--steps") { Description = "DDIM steps per generation", DefaultValueFactory = _ => 25 };
        var guidance = new Option<double>("--guidance") { Description = "Classifier-free guidance scale", DefaultValueFactory = _ => 7.5 };
        var l2 = new Option<double>("--l2-threshold") { Description = "Memorized when the normalized L2 (RMSE in [0,1]) to the nearest training image is below this", DefaultValueFactory = _ => 0.1 };
        var ssim = new Option<double>("--ssim-threshold") { Description = "SSIM label: memorized when the SSIM to the nearest training image is above this", DefaultValueFactory = _ => 0.8 };
        var templatesPerBrand = new Option<int>("--templates-per-brand") { Description = "Template captions tested per brand", DefaultValueFactory = _ => 10 };
        var heldout = new Option<int>("--heldout") { Description = "Held-out captions tested", DefaultValueFactory = _ => 100 };
        var skipBad = new Option<bool>("--skip-bad") { Description = "Leave out unreadable or missing training images (counted), as deja train --skip-bad does, instead of stopping" };
        var images = new Option<string?>("--images") { Description = "Measure the images of a `deja mitigate --out` folder (its mitigate.jsonl rows) instead of generating: the same cases, distances and thresholds; --model, --n, --seed, --steps and --guidance are then not used" };
        var cmd = new Command("replicate", "Measure which captions a model replicates from its training data\n\n" +
            "Example: deja replicate --model data/models/deja-mini --data synth --out replicate   (or --images mitigated instead of --model)")
        {
            model, data, output, n, seed, steps, guidance, l2, ssim, templatesPerBrand, heldout, skipBad, images,
        };
        cmd.SetAction(pr =>
        {
            if ((pr.GetValue(model) is null) == (pr.GetValue(images) is null)) throw new ArgumentException("replicate: give exactly one of --model (generate) and --images (measure a mitigate output)");
            return Run(pr.GetValue(model), pr.GetValue(images), pr.GetValue(data)!, pr.GetValue(output)!, pr.GetValue(n), pr.GetValue(seed), pr.GetValue(steps),
                pr.GetValue(guidance), pr.GetValue(l2), pr.GetValue(ssim), pr.GetValue(templatesPerBrand), pr.GetValue(heldout), pr.GetValue(skipBad));
        });
        return cmd;
    }

    static int Run(string? modelDir, string? imagesDir, string dataDir, string outDir, int n, long seed, int steps, double guidance, double l2, double ssim, int perBrand, int heldoutCount, bool skipBad)
    {
        if (!File.Exists(Path.Combine(dataDir, "synth.json"))) throw new ArgumentException($"--data '{dataDir}' is not a complete deja synth folder (no synth.json)");
        if (n < 1) throw new ArgumentException($"--n must be at least 1, got {n}");
        OutputPath.CheckFolder(outDir, "--out");
        var given = imagesDir is null ? null : GeneratedImages.Read(imagesDir);
        var pipe = modelDir is null ? null : StableDiffusionPipeline.Load(modelDir);
        if (given is not null) { n = given.Generations; seed = 0; }
        int size = pipe?.DefaultImageSize ?? given?.Size ?? 32;
        // measuring given images: every caption of the dataset is a case (the per-brand and held-out limits pick
        // which captions a model run generates, not which ones can be measured)
        var data = SynthReplicationData.Load(dataDir, size, given is null ? perBrand : null, given is null ? heldoutCount : null, skipBad, m => Console.Error.WriteLine($"deja replicate: {m}"));
        var dataset = data.Dataset;
        var training = data.Training;
        // with --images: every caption of the mitigate rows, with the kind (and brand mask) the dataset gives it
        var cases = given is null ? data.Cases.ToList() : data.CasesFor(given.Captions, imagesDir!);

        var run = new ReplicationRun { TrainingImages = training, Channels = 3, Height = size, Width = size, Generations = n, Seed = seed, L2Threshold = l2, SsimThreshold = ssim };
        Directory.CreateDirectory(outDir);
        var progress = new Progress("replicate", cases.Count);
        var clock = Stopwatch.StartNew();
        var results = new List<ReplicationResult>();
        // All n generations of a caption in one batch: the first request draws them, the others are served from it.
        var cache = new Dictionary<(string, long), float[]>();
        float[] Generate(string caption, long s)
        {
            if (given is not null) return given.Image(caption, (int)s);
            if (cache.Remove((caption, s), out var ready)) return ready;
            var generated = CaptionGenerations.Generate(pipe!, caption, n, seed, steps, guidance, size);
            for (int j = 0; j < n; j++) cache[(caption, seed + j)] = generated[j];
            cache.Remove((caption, s), out ready);
            return ready!;
        }
        foreach (var r in run.Run(cases, Generate))
        {
            results.Add(r);
            progress.Report(results.Count, $"{r.Case.Kind} L2 {r.MinNormalizedL2.ToString("0.000", CultureInfo.InvariantCulture)}", clock.Elapsed);
        }

        File.WriteAllLines(Path.Combine(outDir, "replicate.jsonl"), results.Select(r =>
        {
            var row = new JsonObject
            {
                ["caption"] = r.Case.Caption, ["kind"] = r.Case.Kind, ["min_l2"] = Math.Round(r.MinNormalizedL2, 5), ["max_ssim"] = Math.Round(r.MaxSsim, 5),
                ["nearest"] = dataset.Files[r.NearestIndex], ["replicated_l2"] = r.ReplicatedL2, ["replicated_ssim"] = r.ReplicatedSsim,
                // which generations copy (seed = generation's noise seed): what `deja localize --benchmark` maps
                ["seeds"] = new JsonArray([.. r.ReplicatingSeeds(l2).Select(x => (JsonNode)x)]),
                ["generation_l2"] = new JsonArray([.. r.PerGeneration.Select(g => (JsonNode)Math.Round(g.L2, 5))]),
            };
            if (r.Case.Brand is not null) { row["brand"] = r.Case.Brand; row["mask"] = r.Case.MaskFile; }
            return row.ToJsonString();
        }));
        // The benchmark: planted captions that replicate (by L2) vs held-out captions that do not.
        var memorized = results.Where(r => r.Case.Kind != "heldout" && r.ReplicatedL2).Select(r => r.Case.Caption).ToList();
        var nonMemorized = results.Where(r => r.Case.Kind == "heldout" && !r.ReplicatedL2).Select(r => r.Case.Caption).ToList();
        File.WriteAllLines(Path.Combine(outDir, "memorized.txt"), memorized);
        File.WriteAllLines(Path.Combine(outDir, "nonmemorized.txt"), nonMemorized);
        var masksOut = Path.Combine(outDir, "masks");
        Directory.CreateDirectory(masksOut);
        foreach (var mask in Directory.EnumerateFiles(Path.Combine(dataDir, "masks"), "*.png")) File.Copy(mask, Path.Combine(masksOut, Path.GetFileName(mask)), true);
        var rates = ReplicationRun.Rates(results);
        var summary = new JsonObject
        {
            ["model"] = pipe?.Info.Id ?? given!.ModelId, ["images"] = imagesDir is null ? null : Path.GetFullPath(imagesDir),
            ["data"] = Path.GetFileName(Path.TrimEndingDirectorySeparator(dataDir)),
            ["synth"] = JsonNode.Parse(File.ReadAllText(Path.Combine(dataDir, "synth.json"))), // how to regenerate the dataset
            ["n"] = n, ["seed"] = seed, ["steps"] = steps,
            ["guidance"] = guidance, ["l2_threshold"] = l2, ["ssim_threshold"] = ssim,
            ["rates"] = new JsonArray(rates.Select(x => (JsonNode)new JsonObject { ["kind"] = x.Kind, ["captions"] = x.Count, ["replicated_l2"] = x.RateL2, ["replicated_ssim"] = x.RateSsim }).ToArray()),
            ["memorized"] = memorized.Count, ["nonmemorized"] = nonMemorized.Count,
        };
        File.WriteAllText(Path.Combine(outDir, "replicate.json"), summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        Console.WriteLine(given is null
            ? $"replication, {n} generations per caption ({steps} DDIM steps, guidance {guidance}), normalized L2 < {l2} / SSIM > {ssim}:"
            : $"replication of the {n} images per caption in {imagesDir} ({given.Method}), normalized L2 < {l2} / SSIM > {ssim}:");
        Console.WriteLine($"  {"kind",-10} {"captions",9} {"L2",8} {"SSIM",8}");
        foreach (var (kind, count, rl2, rs) in rates) Console.WriteLine($"  {kind,-10} {count,9} {rl2,8:P0} {rs,8:P0}");
        Console.WriteLine($"  wrote {memorized.Count} memorized and {nonMemorized.Count} non-memorized captions to {outDir} in {clock.Elapsed.TotalSeconds:F0} s");
        return 0;
    }
}
