using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Deja.Diffusion.Pipelines;
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
        var output = new Option<string?>("--out") { Description = "JSONL scores file (appended to; rows already there are skipped); in benchmark mode a folder (default deja-mini-detect)" };
        var calibration = new Option<string?>("--calibration") { Description = "Calibration file from deja calibrate (same model, method and options): adds \"flagged\" (score > threshold) and the threshold to every row, and counts the flagged prompts" };
        var shard = new Option<string?>("--shard") { Description = "Score one part of the prompts: i/n (0-based shard i of n; contiguous index ranges cut at multiples of --batch, rows keep the global index; join the parts with deja merge) or auto (Kubernetes Indexed Job: JOB_COMPLETION_INDEX of --shards or DEJA_SHARDS; Slurm array: SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN of SLURM_ARRAY_TASK_COUNT)" };
        var shards = new Option<int?>("--shards") { Description = "With --shard auto on Kubernetes: the number of shards (default: the DEJA_SHARDS variable)" };
        var options = new DetectOptions();

        var cmd = new Command("detect", "Score prompts for memorization (anisotropy, magnitude, sharpness, bright-ending)\n\n" +
            "Example: deja detect --model data/models/deja-mini --prompts data/benchmarks/deja-mini/memorized.txt --calibration calibration.json --out mem.jsonl")
        {
            model, prompts,
        };
        options.AddTo(cmd);
        cmd.Options.Add(output);
        cmd.Options.Add(calibration);
        cmd.Options.Add(shard);
        cmd.Options.Add(shards);
        cmd.SetAction(pr =>
        {
            var settings = options.Read(pr);
            if (pr.GetValue(model) is null && pr.GetValue(prompts) is null)
            {
                if (pr.GetValue(calibration) is not null)
                    throw new ArgumentException("--calibration needs --model and --prompts (the benchmark mode scores both prompt lists and evaluates them instead)");
                if (pr.GetValue(shard) is not null || pr.GetValue(shards) is not null)
                    throw new ArgumentException("--shard needs --model and --prompts (the benchmark mode is not sharded)");
                return RunBenchmark(settings, pr.GetValue(output));
            }
            if (pr.GetValue(model) is null) throw new ArgumentException("--model is required with --prompts (without both, deja detect runs the bundled deja-mini benchmark)");
            if (pr.GetValue(output) is null) throw new ArgumentException("--out is required: the JSONL file to write the scores to");
            if (pr.GetValue(shard) is null && pr.GetValue(shards) is not null) throw new ArgumentException("--shards is only read with --shard auto");
            // Read before anything loads: a shard that cannot be worked out stops the job at once.
            var part = pr.GetValue(shard) is { } spec ? Shard.Parse(spec, pr.GetValue(shards), Environment.GetEnvironmentVariable) : null;
            return Run(pr.GetValue(model)!, pr.GetValue(prompts), settings, pr.GetValue(output)!, pr.GetValue(calibration), part);
        });
        return cmd;
    }

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
        // A bare name such as "deja-mini" is a bundled model (data/models/NAME, shipped beside the deja executable).
        if (!Directory.Exists(spec) && BundledModel(spec) is { } bundled) spec = bundled;
        if (!Directory.Exists(spec)) throw new ArgumentException($"--model: '{spec}' is not a folder (a diffusers pipeline folder, the name of a bundled model such as deja-mini, or analytic[:SEED])");
        if (imageSize is { } side && (side < 8 || side % 8 != 0)) throw new ArgumentException($"--image-size must be a positive multiple of 8, got {side}");
        return new StableDiffusionView(StableDiffusionPipeline.Load(spec), fam, imageSize);
    }

    static int Run(string modelSpec, string? promptPath, DetectSettings settings, string outPath, string? calibrationPath, Shard? shard = null)
    {
        settings.Validate();
        OutputPath.CheckFile(outPath, "--out", OutputUse.Append);
        // Read before the model loads: a missing or corrupt calibration file stops the run at once.
        var calibration = calibrationPath is null ? null : Calibration.Load(calibrationPath);

        var clock = Stopwatch.StartNew();
        var setup = DetectSetup.Open("detect", modelSpec, promptPath, settings);
        var (view, allPrompts, prompts, noise, run) = (setup.View, setup.AllPrompts, setup.Prompts, setup.Noise, setup.Run);
        calibration?.Check(setup.ModelJson, run.Method, setup.ParamsJson);
        // Rows flagged with another threshold, or not flagged at all, must not mix with this run's.
        if (File.Exists(outPath)) Calibration.CheckExistingRows(ScoresFile.Read(outPath), calibration, outPath);

        var folder = Path.GetDirectoryName(Path.GetFullPath(outPath))!;
        Directory.CreateDirectory(folder); // checked above: its nearest existing parent takes files
        using var writer = ScoresFile.OpenForAppend(outPath, view.Id, run.Method, setup.ParamsJson);
        if (writer.DroppedBytes > 0)
            Console.Error.WriteLine($"deja detect: {outPath} ended in a partial line ({writer.DroppedBytes} bytes, from an interrupted run); it was cut off");
        var plan = ScoresResume.Plan(writer.ExistingKeys, allPrompts, prompts.Count, outPath, promptPath ?? modelSpec);
        var done = plan.Done.ToHashSet();
        var range = shard?.Range(prompts.Count, settings.Batch) ?? (0, prompts.Count);
        if (shard is not null)
        {
            // A shard's file holds that shard's rows only: another shard's rows mean the wrong --out (or --batch).
            if (writer.ExistingKeys.FirstOrDefault(k => k.Index < range.Start || k.Index >= range.End) is { Prompt: not null } stray)
                throw new DejaException($"{outPath} has a row for prompt {stray.Index}, outside shard {shard} (prompts {range.Start} … {range.End - 1} " +
                    $"at --batch {settings.Batch}); each shard writes its own file: use another --out");
            Console.Error.WriteLine(range.End > range.Start
                ? $"deja detect: shard {shard}: prompts {range.Start} … {range.End - 1} of {prompts.Count} ({range.End - range.Start} prompts)"
                : $"deja detect: shard {shard}: no prompts (the {prompts.Count} prompts make fewer batches of {settings.Batch} than there are shards); {outPath} stays empty");
        }
        int todo = range.End - range.Start - done.Count;
        string beyond = plan.BeyondLimit > 0 ? $" (and {plan.BeyondLimit} beyond --limit {prompts.Count}, kept)" : "";
        Console.Error.WriteLine($"deja detect: {view.Name} ({view.Family.Name()}, id {view.Id}), {run.Method}, {prompts.Count} prompts" +
            (done.Count > 0 || plan.BeyondLimit > 0 ? $", {done.Count} already in {outPath}{beyond}, {todo} to score" : "") +
            $", n = {noise.Generations}, batch {settings.Batch}, loaded in {clock.Elapsed.TotalSeconds:F1} s" +
            (calibration is null ? "" : $", flagging {calibration.Column} > {Threshold(calibration)} ({calibrationPath})"));
        if (todo == 0)
        {
            if (range.End > range.Start)
                Console.Error.WriteLine($"deja detect: nothing to do; {outPath} has {(shard is null ? "every prompt's row" : $"every row of shard {shard}")}");
            if (calibration is not null) PrintFlagged(calibration, ScoresFile.Read(outPath), outPath);
            return ExitCodes.Ok;
        }

        var progress = new Progress("detect", todo);
        int scored = 0, truncated = 0;
        var work = Stopwatch.StartNew();
        using var interruption = new Interruption("deja detect", "stopping after the batch in flight; the rows written so far are kept");
        // A shard skips every prompt outside its range like a prompt already scored: batches are cut from the
        // range's start on, which is a multiple of --batch, so each is a batch of the unsharded run.
        HashSet<int> skip = shard is null ? done : [.. done, .. Enumerable.Range(0, range.Start), .. Enumerable.Range(range.End, prompts.Count - range.End)];
        foreach (var batch in run.Run(prompts, skip))
        {
            var (rows, nonFinite) = NonFiniteScores.Split(batch);
            writer.AppendBatch([.. rows.Select(r => setup.ToRow(r, calibration?.RowMembers(r.Scores) ?? "{}"))]);
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
        if (calibration is not null) PrintFlagged(calibration, ScoresFile.Read(outPath), outPath);
        if (view is GaussianMixtureModel truth) PrintAnalyticSummary(truth, ScoresFile.Read(outPath));
        return ExitCodes.Ok;
    }

    /// <summary>How many rows of the file the calibrated threshold flags (all of them carry "flagged": see <see cref="Calibration.CheckExistingRows"/>).</summary>
    static void PrintFlagged(Calibration calibration, IReadOnlyList<ScoreRow> rows, string outPath)
    {
        int flagged = rows.Count(r => Calibration.Flagged(r) == true);
        Console.WriteLine($"flagged {flagged} of {rows.Count} prompts in {outPath}: {calibration.Column} > {Threshold(calibration)} " +
            $"(calibrated on {calibration.Negatives} negatives: FPR {Number(calibration.AchievedFpr)} ≤ {Number(calibration.TargetFpr)})");
    }

    internal static string Number(double x) => x.ToString("G6", CultureInfo.InvariantCulture);

    /// <summary>The threshold in full (round-trip) precision: a score printed as equal to it must compare as the rule says.</summary>
    internal static string Threshold(Calibration c) => c.Threshold.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>The folder of the bundled model called <paramref name="name"/> (data/models/NAME), or null: only plain names, no paths.</summary>
    internal static string? BundledModel(string name) =>
        name.Length > 0 && name.IndexOfAny(['/', '\\']) < 0 && name is not ("." or "..") ? DataFolder(Path.Combine("models", name)) : null;

    /// <summary>
    /// A folder of data/ (bundled model and benchmark), searched upwards from the binary and then the working
    /// directory: beside the binary for the .NET tool and the published executable (the project ships data/
    /// with them), in the repository for a build from a checkout.
    /// </summary>
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
    static int RunBenchmark(DetectSettings settings, string? givenOutDir)
    {
        var outDir = givenOutDir ?? "deja-mini-detect";
        // Checked first: bare `deja detect` run from a folder that takes no files must say so, not crash.
        OutputPath.CheckFolder(outDir, givenOutDir is null ? "the default output folder (choose another with --out)" : "--out");
        var model = DataFolder(Path.Combine("models", "deja-mini"))
            ?? throw new ArgumentException("the bundled model data/models/deja-mini was not found; give --model DIR --prompts FILE --out FILE");
        var bench = DataFolder(Path.Combine("benchmarks", "deja-mini"))
            ?? throw new ArgumentException("the bundled benchmark data/benchmarks/deja-mini was not found");
        Directory.CreateDirectory(outDir);
        string method = string.Join("+", settings.Detectors.Select(d => d.Method));
        string mem = Path.Combine(outDir, $"memorized.{method}.jsonl"), nonmem = Path.Combine(outDir, $"nonmemorized.{method}.jsonl");
        Console.Error.WriteLine($"deja detect: benchmark mode — {model} on {bench} (memorized.txt vs nonmemorized.txt), scores in {outDir}/");
        foreach (var (prompts, scores) in new[] { ("memorized.txt", mem), ("nonmemorized.txt", nonmem) })
        {
            // Only the methods, the noise and the batch apply here: the benchmark's prompt lists are scored whole, at the model's size.
            int code = Run(model, Path.Combine(bench, prompts), settings with { Latents = null, LatentsPerPrompt = false, Family = null, ImageSize = null, Limit = null }, scores, null);
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
