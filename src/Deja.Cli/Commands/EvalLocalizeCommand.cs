using System.CommandLine;
using Deja.Memorization.Localization;
using Deja.Tensors;

namespace Deja.Cli;

/// <summary>
/// `deja eval-localize`: how well localization maps (from `deja localize`) find the memorized region,
/// by Kim &amp; Lee's protocol (METHODS.md §4.7: oracle-threshold IoU, mIoU and pixel accuracy on the
/// "TV only" and "ALL" sets) plus what the paper lacks: a held-out threshold, pixel AUC and AP, and
/// bootstrap intervals over prompts, always beside the trivial all-ones map.
/// </summary>
public static class EvalLocalizeCommand
{
    public static Command Create()
    {
        var maps = new Option<string>("--maps") { Description = "Folder written by deja localize (maps.safetensors, localize.jsonl)", Required = true };
        var benchmark = new Option<string?>("--benchmark") { Description = "Ground truth: a deja benchmark folder (replicate.jsonl, memorized.txt, nonmemorized.txt, masks/)" };
        var masks = new Option<string?>("--masks") { Description = "Ground truth: JSONL rows {index, generation, mask: PNG path | \"ones\" | \"zeros\", kind?} (paths relative to the file)" };
        var map = new Option<string[]>("--map") { Description = "Map to evaluate (repeatable; default: every map in the file)" };
        var maskSize = new Option<int?>("--mask-size") { Description = "Resolution of all-ones/zeros masks when no PNG mask gives one (default: --masks 256; --benchmark its masks, else the largest map)" };
        var bootstrap = new Option<int>("--bootstrap") { Description = "Bootstrap resamples of the prompts for the 95% intervals (0: none)", DefaultValueFactory = _ => 1000 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the bootstrap", DefaultValueFactory = _ => 0 };
        var splitSeed = new Option<ulong>("--split-seed") { Description = "Seed of the 50% prompt split of the held-out threshold", DefaultValueFactory = _ => 0 };
        var json = new Option<string?>("--json") { Description = "Write every number (curves, thresholds, intervals) to this JSON file" };
        var cmd = new Command("eval-localize", "Evaluate localization maps against ground-truth masks: Kim & Lee's oracle IoU/mIoU/accuracy, " +
            "a held-out threshold, pixel AUC/AP and bootstrap intervals, beside the all-ones baseline\n\n" +
            "Example: deja eval-localize --maps loc --benchmark data/benchmarks/deja-mini --json loc/eval.json")
        {
            maps, benchmark, masks, map, maskSize, bootstrap, seed, splitSeed, json,
        };
        cmd.SetAction(pr => Run(pr.GetValue(maps)!, pr.GetValue(benchmark), pr.GetValue(masks), pr.GetValue(map) ?? [], pr.GetValue(maskSize),
            pr.GetValue(bootstrap), pr.GetValue(seed), pr.GetValue(splitSeed), pr.GetValue(json)));
        return cmd;
    }

    static int Run(string mapsDir, string? benchmarkDir, string? masksFile, string[] mapNames, int? maskSize, int bootstrap, ulong seed, ulong splitSeed, string? jsonPath)
    {
        if ((benchmarkDir is null) == (masksFile is null)) throw new DejaException("eval-localize: give exactly one of --benchmark DIR and --masks FILE");
        if (bootstrap < 0) throw new DejaException($"eval-localize: --bootstrap must be ≥ 0, got {bootstrap}");
        if (maskSize is < 1) throw new DejaException($"eval-localize: --mask-size must be at least 1, got {maskSize}");
        if (jsonPath is not null) OutputPath.CheckFile(jsonPath, "--json", OutputUse.Replace);

        using var maps = LocalizationMaps.Open(mapsDir);
        var selected = mapNames.Length == 0 ? maps.MapNames : mapNames.Distinct().ToList();
        foreach (var name in selected)
            if (!maps.MapNames.Contains(name))
                throw new DejaException($"eval-localize: --map {name}: no such map in {Path.Combine(mapsDir, LocalizationMaps.MapsFile)} " +
                                        $"(it has {string.Join(", ", maps.MapNames)})");
        var truth = benchmarkDir is not null
            ? BenchmarkTruth.Build(benchmarkDir, maps.Prompts, maskSize, () => maps.LargestShape(selected.ToHashSet()))
            : MaskFileTruth.Build(masksFile!, maps.Prompts, maskSize);
        // Every selected map must exist for every evaluated sample, so all maps are scored on the same samples.
        foreach (var s in truth.Samples)
            foreach (var name in selected)
                if (!maps.Contains(s.Index, s.Generation, name))
                    throw new DejaException($"eval-localize: {Path.Combine(mapsDir, LocalizationMaps.MapsFile)} has no map '{name}' for prompt {s.Index}, " +
                                            $"generation {s.Generation}, which {LocalizationMaps.PromptsFile} lists (expected a tensor named {s.Index}/{s.Generation}/{name})");
        var options = new LocalizationOptions { BootstrapResamples = bootstrap, Seed = seed, SplitSeed = splitSeed };
        Console.Error.WriteLine($"deja eval-localize: {truth.Samples.Count} samples, {selected.Count} map(s) + {LocalizationEvaluation.BaselineName}, " +
                                $"masks {truth.Width}×{truth.Height}, {bootstrap} bootstrap resamples");
        var report = LocalizationEvaluation.Evaluate(truth, maps, selected, options);

        var notes = new List<string>();
        if (maps.IgnoredTensors > 0) notes.Add($"ignored {maps.IgnoredTensors} tensor(s) of maps.safetensors not named index/generation/map");
        if (jsonPath is not null)
        {
            var inputs = new Dictionary<string, string> { ["maps"] = mapsDir };
            if (benchmarkDir is not null) inputs["benchmark"] = benchmarkDir; else inputs["masks"] = masksFile!;
            AtomicFile.WriteAllText(jsonPath, LocalizationReportFormat.Json(report, inputs, truth.Skipped, notes));
        }
        Console.Write(LocalizationReportFormat.Table(report, truth.Skipped, notes));
        if (jsonPath is not null) Console.WriteLine($"JSON: {jsonPath}");
        return ExitCodes.Ok;
    }
}
