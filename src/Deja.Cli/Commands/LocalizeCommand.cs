using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Deja.Diffusion.Text;
using Deja.Memorization.Detection;
using Deja.Memorization.Localization;
using Deja.Memorization.Models;
using Deja.Tensors;

namespace Deja.Cli;

/// <summary>
/// `deja localize`: where in the image the copy sits — Kim &amp; Lee's curvature-difference maps and
/// their baselines (METHODS.md §4), and the Bright Ending attention map (§4.8), for prompts or for a
/// replication benchmark's copying generations. Writes maps.safetensors, PNG heatmaps and
/// localize.jsonl into --out (resumable: prompts already there are skipped).
/// </summary>
public static class LocalizeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Pipeline folder (diffusers layout)", Required = true };
        var prompts = new Option<string?>("--prompts") { Description = "Prompt file: one prompt per line, or JSONL with a prompt/caption field" };
        var prompt = new Option<string?>("--prompt") { Description = "One prompt (instead of --prompts)" };
        var benchmark = new Option<string?>("--benchmark") { Description = "A `deja replicate` benchmark folder: map each memorized caption's replicating seeds (at most --max-seeds) and each non-memorized caption's first seed (§4.5)" };
        var output = new Option<string>("--out") { Description = "Folder to write (maps.safetensors, png/, localize.jsonl); an existing run there is resumed", Required = true };
        var maps = new Option<string?>("--maps") { Description = $"Comma-separated maps (default: all the models allow: {string.Join(", ", MapNames.All)}; the _bad maps only with --bad-model)" };
        var bad = new Option<string?>("--bad-model") { Description = "Less-trained model θ̃ of the same architecture, for cov_bad and score_diff_bad (§4.4)" };
        var probes = new Option<string>("--probes") { Description = "Hutchinson probes K, or 'exact' (one VJP per latent coordinate, at most 4096 coordinates)", DefaultValueFactory = _ => "16" };
        var probeSeed = new Option<long>("--probe-seed") { Description = "Base seed of the probes (probe generator = base + 10000·generation seed)", DefaultValueFactory = _ => 0 };
        var steps = new Option<int>("--steps") { Description = "DDIM steps of the trajectory; the maps are taken at its last step", DefaultValueFactory = _ => 50 };
        var guidance = new Option<double>("--guidance") { Description = "Guidance scale of the trajectory", DefaultValueFactory = _ => 7.5 };
        var consistent = new Option<bool>("--consistent-sigma") { Description = "Curvature maps in score units (÷σ_t) like score_diff (Kim & Lee's code leaves cov without 1/σ)" };
        var n = new Option<int>("--n") { Description = "Generations per prompt (prompt mode)", DefaultValueFactory = _ => 1 };
        var seed = new Option<long>("--seed") { Description = "Seed of the initial noise (prompt mode)", DefaultValueFactory = _ => 0 };
        var policy = new Option<string>("--seed-policy") { Description = "same: generation j of every prompt has seed --seed + j; index: seed = --seed + prompt index + j", DefaultValueFactory = _ => "same" };
        var maxSeeds = new Option<int>("--max-seeds") { Description = "Benchmark mode: replicating seeds mapped per memorized caption", DefaultValueFactory = _ => 4 };
        var limitMem = new Option<int?>("--limit-memorized") { Description = "Benchmark mode: map only the first N memorized captions" };
        var limitHeld = new Option<int?>("--limit-heldout") { Description = "Benchmark mode: map only the first N non-memorized captions" };
        var limit = new Option<int?>("--limit") { Description = "Prompt mode: map only the first N prompts" };
        var noPng = new Option<bool>("--no-png") { Description = "Do not write the PNG heatmaps" };
        var imageSize = new Option<int?>("--image-size") { Description = "Image side in pixels (default: the model's)" };
        var family = new Option<string?>("--family") { Description = "Model family: sd1, sd2 or rv (default: from the prediction type)" };
        var cmd = new Command("localize", "Where in the image a prompt's copy sits: curvature-difference maps (Kim & Lee) and the Bright Ending attention map\n\n" +
            "Example: deja localize --model data/models/deja-mini --benchmark data/benchmarks/deja-mini --bad-model data/models/deja-mini-early --out loc")
        {
            model, prompts, prompt, benchmark, output, maps, bad, probes, probeSeed, steps, guidance, consistent, n, seed, policy, maxSeeds, limitMem, limitHeld, limit, noPng, imageSize, family,
        };
        cmd.SetAction(pr => Run(new Request
        {
            Model = pr.GetValue(model)!, Prompts = pr.GetValue(prompts), Prompt = pr.GetValue(prompt), Benchmark = pr.GetValue(benchmark),
            Out = pr.GetValue(output)!, Maps = pr.GetValue(maps), BadModel = pr.GetValue(bad), Probes = pr.GetValue(probes)!,
            ProbeSeed = pr.GetValue(probeSeed), Steps = pr.GetValue(steps), Guidance = pr.GetValue(guidance), ConsistentSigma = pr.GetValue(consistent),
            N = pr.GetValue(n), Seed = pr.GetValue(seed), Policy = DetectorOptions.ParsePolicy(pr.GetValue(policy)!), MaxSeeds = pr.GetValue(maxSeeds),
            LimitMemorized = pr.GetValue(limitMem), LimitHeldout = pr.GetValue(limitHeld), Limit = pr.GetValue(limit), NoPng = pr.GetValue(noPng), ImageSize = pr.GetValue(imageSize), Family = pr.GetValue(family),
        }));
        return cmd;
    }

    sealed record Request
    {
        public required string Model { get; init; }
        public string? Prompts { get; init; }
        public string? Prompt { get; init; }
        public string? Benchmark { get; init; }
        public required string Out { get; init; }
        public string? Maps { get; init; }
        public string? BadModel { get; init; }
        public required string Probes { get; init; }
        public long ProbeSeed { get; init; }
        public int Steps { get; init; }
        public double Guidance { get; init; }
        public bool ConsistentSigma { get; init; }
        public int N { get; init; }
        public long Seed { get; init; }
        public SeedPolicy Policy { get; init; }
        public int MaxSeeds { get; init; }
        public int? LimitMemorized { get; init; }
        public int? LimitHeldout { get; init; }
        public int? Limit { get; init; }
        public bool NoPng { get; init; }
        public int? ImageSize { get; init; }
        public string? Family { get; init; }
    }

    static int? ParseProbes(string text) =>
        text.Trim().Equals("exact", StringComparison.OrdinalIgnoreCase) ? null
        : int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int k) && k >= 1 ? k
        : throw new DejaException($"localize: --probes must be a positive integer or 'exact', got '{text}'");

    static int Run(Request r)
    {
        int sources = (r.Prompts is null ? 0 : 1) + (r.Prompt is null ? 0 : 1) + (r.Benchmark is null ? 0 : 1);
        if (sources != 1) throw new DejaException("localize: give exactly one of --prompt TEXT, --prompts FILE and --benchmark DIR");
        if (r.Prompt is not null && string.IsNullOrWhiteSpace(r.Prompt)) throw new DejaException("localize: --prompt is empty");
        if (r.N < 1) throw new DejaException($"localize: --n must be at least 1, got {r.N}");
        if (r.MaxSeeds < 1) throw new DejaException($"localize: --max-seeds must be at least 1, got {r.MaxSeeds}");
        if (r.Limit is < 1 || r.LimitMemorized is < 0 || r.LimitHeldout is < 0) throw new DejaException("localize: limits must be positive");
        OutputPath.CheckFolder(r.Out, "--out");

        var view = DetectCommand.OpenModel(r.Model, r.Family, r.ImageSize);
        var badView = r.BadModel is null ? null : DetectCommand.OpenModel(r.BadModel, r.Family, r.ImageSize);
        var mapList = r.Maps is not null ? MapNames.Parse(r.Maps)
            : MapNames.All.Where(m => (badView is not null || !MapNames.NeedsBadModel(m)) && (m != MapNames.BrightEnding || view is StableDiffusionView)).ToArray();
        var run = new LocalizeRun
        {
            Model = view, BadModel = badView, Maps = mapList,
            Method = new CurvatureMaps { Steps = r.Steps, Guidance = r.Guidance, Probes = ParseProbes(r.Probes), ProbeSeed = r.ProbeSeed, ConsistentSigma = r.ConsistentSigma },
        };
        run.Validate(); // before any work: --probes exact on large latents, a bad model of another shape

        var jobs = new List<(int Index, string Prompt, long[] Seeds, string? Kind)>();
        if (r.Benchmark is not null)
        {
            var captions = LocalizeBenchmark.Read(r.Benchmark, r.MaxSeeds, r.LimitMemorized, r.LimitHeldout);
            for (int i = 0; i < captions.Count; i++) jobs.Add((i, captions[i].Prompt, [.. captions[i].Seeds], captions[i].Kind));
        }
        else
        {
            var all = r.Prompt is not null ? [r.Prompt] : PromptFile.Read(r.Prompts!).Prompts.Select(p => p.Text).ToList();
            if (r.Limit is { } l && l < all.Count) all = all.Take(l).ToList();
            for (int i = 0; i < all.Count; i++)
            {
                long first = r.Policy == SeedPolicy.Index ? r.Seed + i : r.Seed;
                jobs.Add((i, all[i], [.. Enumerable.Range(0, r.N).Select(j => first + j)], null));
            }
        }

        var modelJson = view.Identity();
        using var output = new LocalizeOutput(r.Out, modelJson, run.Parameters()) { WritePngs = !r.NoPng };
        var todo = jobs.Where(j => !output.IsDone(j.Index, j.Prompt)).ToList();
        Console.Error.WriteLine($"deja localize: {view.Name} (id {view.Id}){(badView is null ? "" : $", θ̃ = {badView.Name}")}, maps {string.Join(", ", mapList)}, " +
            $"probes {r.Probes}, {r.Steps} steps; {jobs.Count} prompt(s), {jobs.Count - todo.Count} already in {r.Out}");

        using var interruption = new Interruption("deja localize", "stopping after the prompt in flight");
        using var nullCondition = view.NullCondition();
        var progress = todo.Count > 1 ? new Progress("localize", todo.Count) : null;
        var clock = Stopwatch.StartNew();
        int done = 0;
        foreach (var (index, text, seeds, kind) in todo)
        {
            if (interruption.Requested)
            {
                Console.Error.WriteLine($"deja localize: stopped by {interruption.SignalName} after {done} prompt(s); run the same command to resume");
                return interruption.ExitCode;
            }
            using var latents = LocalizeBenchmark.Noise(seeds, view.LatentShape);
            var result = run.Run(new LocalizeJob(index, text, seeds, latents, kind), nullCondition);
            output.Write(result);
            done++;
            progress?.Report(done, string.Join(" ", result.Maps.Take(2).Select(m => $"{m.Name} {m.Mean.ToString("0.###", CultureInfo.InvariantCulture)}")), clock.Elapsed);
            if (todo.Count == 1)
                Console.Error.WriteLine($"deja localize: [{index}] " + string.Join(", ", result.Maps.Select(m => $"{m.Name} mean {m.Mean.ToString("G4", CultureInfo.InvariantCulture)}")));
        }
        int tensors = output.Finish();
        Console.Error.WriteLine($"deja localize: {tensors} maps of {output.ExistingRows + done} prompt(s) in {Path.Combine(r.Out, LocalizeOutput.MapsFile)}, " +
            $"rows in {Path.Combine(r.Out, LocalizeOutput.RowsFile)}{(r.NoPng ? "" : $", heatmaps in {Path.Combine(r.Out, LocalizeOutput.PngDir)}")} ({clock.Elapsed.TotalSeconds:F1} s)");
        return ExitCodes.Ok;
    }
}
