using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Deja.Diffusion.IO;
using Deja.Diffusion.Pipelines;
using Deja.Memorization.Fidelity;
using Deja.Tensors;

namespace Deja.Cli;

/// <summary>
/// `deja judge`: caption fidelity, deja-mini's stand-in for CLIP score. `train` fits the attribute judge
/// on freshly drawn synthetic scenes and saves it as a model folder; `eval` measures, per attribute, how
/// well it reads held-out synthetic images and deja-mini's replicating generations, and the fidelity of
/// generations of held-out captions (the ceiling for mitigation).
/// </summary>
public static class JudgeCommand
{
    /// <summary>Default seed of the held-out synthetic images: one training never uses by default (training's is 0).</summary>
    public const ulong HeldOutSeed = 1_000_003;

    public static Command Create()
    {
        var judge = new Command("judge", "Caption fidelity: train and evaluate the attribute judge that stands in for CLIP score on deja-mini\n\n" +
            "Example: deja judge eval --memorized 20 --heldout 20");
        judge.Subcommands.Add(TrainCommand());
        judge.Subcommands.Add(EvalCommand());
        return judge;
    }

    static Command TrainCommand()
    {
        var output = new Option<string>("--out") { Description = "Judge folder to write (config.json, model.safetensors, README.md, train_log.jsonl)", Required = true };
        var steps = new Option<int>("--steps") { Description = "Adam steps (each on a fresh batch of synthetic scenes)", DefaultValueFactory = _ => 4000 };
        var batch = new Option<int>("--batch") { Description = "Images per step", DefaultValueFactory = _ => 64 };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate (linear warm-up, then cosine decay to 0)", DefaultValueFactory = _ => 2e-3 };
        var warmup = new Option<int>("--warmup") { Description = "Warm-up steps", DefaultValueFactory = _ => 100 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the initialization and of every drawn image", DefaultValueFactory = _ => 0UL };
        var evalImages = new Option<int>("--eval-images") { Description = "Held-out synthetic images measured after training, for the README (0: skip)", DefaultValueFactory = _ => 2000 };
        var evalSeed = new Option<ulong>("--eval-seed") { Description = "Seed of those held-out images (must differ from --seed)", DefaultValueFactory = _ => HeldOutSeed };
        var dtype = new Option<string>("--dtype") { Description = "Weight storage: f16 or f32", DefaultValueFactory = _ => "f16" };
        var cmd = new Command("train", "Train the caption-attribute judge on synthetic scenes drawn on the fly\n\n" +
            "Example: deja judge train --out data/models/deja-judge --seed 0")
        {
            output, steps, batch, lr, warmup, seed, evalImages, evalSeed, dtype,
        };
        cmd.SetAction(pr =>
        {
            var options = new JudgeTrainingOptions
            {
                Steps = pr.GetValue(steps), BatchSize = pr.GetValue(batch), LearningRate = pr.GetValue(lr), WarmupSteps = pr.GetValue(warmup), Seed = pr.GetValue(seed),
            };
            options.Validate();
            if (pr.GetValue(evalImages) < 0) throw new DejaException($"judge train: --eval-images must not be negative, got {pr.GetValue(evalImages)}");
            if (pr.GetValue(evalImages) > 0 && pr.GetValue(evalSeed) == options.Seed)
                throw new DejaException($"judge train: --eval-seed {options.Seed} is the training seed; held-out images need another");
            var storage = pr.GetValue(dtype)!.ToLowerInvariant() switch
            {
                "f16" => SafeTensorsDType.F16, "f32" => SafeTensorsDType.F32,
                var other => throw new DejaException($"judge train: --dtype must be f16 or f32, got '{other}'"),
            };
            string outDir = pr.GetValue(output)!;
            OutputPath.CheckFolder(outDir, "--out");
            return Train(outDir, options, pr.GetValue(evalImages), pr.GetValue(evalSeed), storage, pr.Tokens.Select(t => t.Value));
        });
        return cmd;
    }

    static int Train(string outDir, JudgeTrainingOptions options, int evalImages, ulong evalSeed, SafeTensorsDType dtype, IEnumerable<string> arguments)
    {
        var config = new JudgeConfig();
        string command = "deja " + string.Join(" ", arguments.Select(a => a.Contains(' ') ? $"\"{a}\"" : a));
        long parameters = new JudgeNetwork(config).ParameterCount();
        Console.Error.WriteLine($"deja judge train: {parameters / 1e3:F0} k parameters, {options.Steps} steps of {options.BatchSize} fresh images, seed {options.Seed}");
        var progress = new Progress("judge train", options.Steps);
        var log = new List<string>();
        var window = new Queue<double>();
        var network = JudgeTraining.Train(config, options, s =>
        {
            window.Enqueue(s.Loss);
            if (window.Count > 100) window.Dequeue();
            log.Add(new JsonObject { ["step"] = s.Step, ["loss"] = Math.Round(s.Loss, 6), ["lr"] = s.LearningRate, ["seconds"] = Math.Round(s.Elapsed.TotalSeconds, 2) }.ToJsonString());
            progress.Report(s.Step, $"loss {window.Average().ToString("0.0000", CultureInfo.InvariantCulture)}", s.Elapsed);
        });
        double seconds = log.Count > 0 ? (double)JsonNode.Parse(log[^1])!["seconds"]! : 0;
        double finalLoss = window.Average();

        var judge = new CaptionJudge(network);
        FidelityTally? heldOut = null;
        if (evalImages > 0)
        {
            // Measured on the weights as stored: an F16 judge is evaluated after rounding to F16.
            var rounded = RoundTrip(network, dtype);
            heldOut = JudgeEvaluation.Synthetic(rounded, evalImages, evalSeed);
        }
        var metadata = new Dictionary<string, string>
        {
            ["deja_judge_command"] = command, ["deja_judge_seed"] = options.Seed.ToString(CultureInfo.InvariantCulture),
            ["deja_judge_steps"] = options.Steps.ToString(CultureInfo.InvariantCulture), ["deja_judge_batch"] = options.BatchSize.ToString(CultureInfo.InvariantCulture),
            ["deja_judge_lr"] = options.LearningRate.ToString("R", CultureInfo.InvariantCulture),
            ["deja_judge_train_seconds"] = seconds.ToString("0.0", CultureInfo.InvariantCulture),
            ["deja_judge_final_loss"] = finalLoss.ToString("0.00000", CultureInfo.InvariantCulture),
            ["deja_version"] = DejaVersion.Text,
        };
        CaptionJudge.Save(network, outDir, metadata, Readme(command, options, parameters, dtype, seconds, finalLoss, heldOut, evalSeed));
        var logPath = Path.Combine(outDir, "train_log.jsonl");
        File.WriteAllLines(logPath + ".tmp", log);
        File.Move(logPath + ".tmp", logPath, overwrite: true);
        long bytes = new FileInfo(Path.Combine(outDir, CaptionJudge.WeightsFile)).Length;
        Console.Error.WriteLine($"deja judge train: {options.Steps} steps in {seconds:F0} s, final loss {finalLoss:F4}; wrote {outDir} ({bytes / 1024.0:F0} KiB of weights)");
        if (heldOut is not null) PrintTable([heldOut]);
        return ExitCodes.Ok;
    }

    /// <summary>The judge with its weights rounded to the storage type, as a reader of the saved folder gets it.</summary>
    static CaptionJudge RoundTrip(JudgeNetwork network, SafeTensorsDType dtype)
    {
        var temp = Path.Combine(Path.GetTempPath(), $"deja-judge-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            CaptionJudge.Save(network, temp, new Dictionary<string, string>(), "", dtype);
            return CaptionJudge.Load(temp);
        }
        finally { if (Directory.Exists(temp)) Directory.Delete(temp, true); }
    }

    static string Readme(string command, JudgeTrainingOptions o, long parameters, SafeTensorsDType dtype, double seconds, double loss, FidelityTally? heldOut, ulong evalSeed)
    {
        var accuracy = heldOut is null ? "(not measured: --eval-images 0)" : string.Join("\n", new[]
        {
            $"Held-out accuracy on {heldOut.Images} fresh synthetic images (synth's scenes, a fifth under a brand-like logo; seed {evalSeed}, never drawn in training):",
            "",
            "| attribute | accuracy |",
            "|---|---|",
        }.Concat(FidelityVerdict.AttributeNames.Select(a => $"| {a} | {Percent(heldOut.Accuracy(a))} |"))
         .Append($"| empty cells read empty | {Percent(heldOut.EmptyCellAccuracy)} |")
         .Append($"| mean fidelity | {Percent(heldOut.MeanFidelity)} |"));
        return $"""
            # deja-judge

            The attribute judge behind caption fidelity, deja-mini's stand-in for CLIP score (`deja judge eval`,
            `CaptionJudge.Fidelity`). A small CNN trained with Deja's own engine that reads from a 32×32 image
            (RGB in [−1, 1], deja-mini's pipeline output) what `deja synth` captions state: for each of the 3×3
            grid cells whether it holds an object and, if so, its colour (8), shape (6) and size (2); and the
            background's colour (8) and texture (4). Brand logos are not attributes: the judge was trained with
            random brand-like logos over synth's brand regions and the cells they hide left unlabelled.

            * `config.json` — architecture and label vocabularies (`DejaCaptionJudge` version {JudgeConfig.Version});
            * `model.safetensors` — {parameters:N0} parameters, {dtype} storage; the training provenance is in its metadata;
            * `train_log.jsonl` — the loss per step.

            ## How it was made

            ```sh
            {command}
            ```

            {o.Steps} Adam steps of {o.BatchSize} images drawn afresh each step (seed {o.Seed}): scenes with 1–{o.Data.MaxObjects} objects,
            rendered with synth's nuisance (offsets, up to {F(o.Data.MaxOffsetScale)}× synth's, scales, tints, lighting, texture phase), {P(o.Data.LogoProbability)} under a random
            brand-like logo (its hidden cells unlabelled), and degraded as deja-mini's generations are: Gaussian
            colour noise per pixel with σ drawn up to {F(o.Data.MaxNoise)}, a partial 3×3 blur or unsharp mask on {P(o.Data.BlurProbability)}, colour jitter {F(o.Data.ColourJitter)}
            (saturation, contrast, channel shifts), and {P(o.Data.WarpProbability)} warped by a smooth displacement field of up to {F(o.Data.MaxWarp)} pixels. Learning rate {F(o.LearningRate)} after {o.WarmupSteps} warm-up steps, cosine decay to 0.
            {seconds:F0} s of training; mean loss over the last 100 steps {loss.ToString("0.0000", CultureInfo.InvariantCulture)}.

            {accuracy}
            """ + "\n";
    }

    static string P(double v) => (100 * v).ToString("0", CultureInfo.InvariantCulture) + " %";
    static string F(double v) => v.ToString(CultureInfo.InvariantCulture);

    static string Percent(double v) => double.IsFinite(v) ? (100 * v).ToString("0.0", CultureInfo.InvariantCulture) + " %" : "–";

    static Command EvalCommand()
    {
        var judgeDir = new Option<string?>("--judge") { Description = "Judge folder (default: the bundled data/models/deja-judge)" };
        var synthetic = new Option<int>("--synthetic") { Description = "Fresh held-out synthetic images (0: skip)", DefaultValueFactory = _ => 2000 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the synthetic images (refused if it is the judge's training seed)", DefaultValueFactory = _ => HeldOutSeed };
        var model = new Option<string?>("--model") { Description = "Pipeline that generates (default: the bundled deja-mini)" };
        var benchmark = new Option<string?>("--benchmark") { Description = "Benchmark folder of deja replicate (default: the bundled data/benchmarks/deja-mini)" };
        var memorized = new Option<int?>("--memorized") { Description = "Memorized captions whose replicating generations are judged (default: all; 0: none)" };
        var heldout = new Option<int?>("--heldout") { Description = "Held-out captions whose generations are judged (default: all; 0: none)" };
        var images = new Option<string?>("--images") { Description = "Also judge these (caption, PNG) pairs: a JSONL file with caption/prompt and image/file, or a folder with images.jsonl (--save-images), mitigate.jsonl or captions.jsonl" };
        var verdicts = new Option<string?>("--verdicts") { Description = "Write every judged image's verdicts to this JSONL file" };
        var saveImages = new Option<string?>("--save-images") { Description = "Write the judged generations as PNGs with images.jsonl (caption, image, set, generation) into this folder, for a later --images" };
        var json = new Option<bool>("--json") { Description = "Print the results as JSON instead of a table" };
        var cmd = new Command("eval", "Per-attribute accuracy of the judge on held-out synthetic images and replicating generations, and the fidelity of held-out generations\n\n" +
            "Example: deja judge eval --memorized 20 --heldout 20 --images mitigated")
        {
            judgeDir, synthetic, seed, model, benchmark, memorized, heldout, images, verdicts, saveImages, json,
        };
        cmd.SetAction(pr =>
        {
            int count = pr.GetValue(synthetic);
            if (count < 0) throw new DejaException($"judge eval: --synthetic must not be negative, got {count}");
            if (pr.GetValue(memorized) is < 0 || pr.GetValue(heldout) is < 0) throw new DejaException("judge eval: --memorized and --heldout must not be negative");
            if (pr.GetValue(verdicts) is { } v) OutputPath.CheckFile(v, "--verdicts", OutputUse.Replace);
            if (pr.GetValue(saveImages) is { } si) OutputPath.CheckFolder(si, "--save-images");
            string dir = pr.GetValue(judgeDir) ?? DetectCommand.DataFolder(Path.Combine("models", "deja-judge"))
                ?? throw new DejaException("judge eval: the bundled judge data/models/deja-judge was not found; give --judge");
            var judge = CaptionJudge.Load(dir);
            if (count > 0 && judge.Metadata.TryGetValue("deja_judge_seed", out var trained) && trained == pr.GetValue(seed).ToString(CultureInfo.InvariantCulture))
                throw new DejaException($"judge eval: --seed {trained} is the seed the judge was trained with; held-out images need another");
            return Eval(judge, count, pr.GetValue(seed), pr.GetValue(model), pr.GetValue(benchmark), pr.GetValue(memorized), pr.GetValue(heldout),
                pr.GetValue(images), pr.GetValue(verdicts), pr.GetValue(saveImages), pr.GetValue(json));
        });
        return cmd;
    }

    static int Eval(CaptionJudge judge, int synthetic, ulong seed, string? modelDir, string? benchmarkDir, int? memorized, int? heldout, string? imagesPath, string? verdictsPath, string? saveImages, bool json)
    {
        var clock = Stopwatch.StartNew();
        var tallies = new List<FidelityTally>();
        var rows = new List<string>();
        var saved = new List<string>();
        // Read the inputs that can be refused before the long part.
        var extra = imagesPath is null ? null : JudgeEvaluation.ReadImages(imagesPath, judge.ImageSize);
        bool generate = memorized != 0 || heldout != 0;
        (JudgeEvaluation.BenchmarkSettings Settings, List<JudgeEvaluation.BenchmarkCase> Cases)? bench = null;
        if (generate)
        {
            string folder = benchmarkDir ?? DetectCommand.DataFolder(Path.Combine("benchmarks", "deja-mini"))
                ?? throw new DejaException("judge eval: the bundled benchmark data/benchmarks/deja-mini was not found; give --benchmark, or --memorized 0 --heldout 0");
            bench = JudgeEvaluation.BenchmarkCases(folder, memorized, heldout);
        }
        Console.Error.WriteLine($"deja judge eval: judge {judge.Directory}");

        if (synthetic > 0)
        {
            tallies.Add(JudgeEvaluation.Synthetic(judge, synthetic, seed));
            Console.Error.WriteLine($"deja judge eval: {synthetic} held-out synthetic images (seed {seed}) in {clock.Elapsed.TotalSeconds:F1} s");
        }
        if (bench is { } b && b.Cases.Count > 0)
        {
            string dir = modelDir ?? DetectCommand.DataFolder(Path.Combine("models", "deja-mini"))
                ?? throw new DejaException("judge eval: the bundled deja-mini was not found; give --model");
            var pipe = StableDiffusionPipeline.Load(dir);
            var progress = new Progress("judge eval", b.Cases.Count);
            var start = clock.Elapsed;
            tallies.AddRange(JudgeEvaluation.Generations(judge, pipe, b.Settings, b.Cases, (done, _) => progress.Report(done, null, clock.Elapsed - start),
                (c, generation, image, v) =>
                {
                    string set = JudgeEvaluation.SetName(c.Kind);
                    string? file = saveImages is null ? null : SaveImage(saveImages, saved, c.Caption, set, generation, image, judge.ImageSize);
                    rows.Add(VerdictRow(set, v, generation, file));
                }));
            if (saveImages is not null)
            {
                File.WriteAllLines(Path.Combine(saveImages, "images.jsonl.tmp"), saved);
                File.Move(Path.Combine(saveImages, "images.jsonl.tmp"), Path.Combine(saveImages, "images.jsonl"), overwrite: true);
            }
            int images = b.Cases.Sum(c => c.Generations.Count);
            Console.Error.WriteLine($"deja judge eval: {b.Cases.Count} benchmark captions generated ({b.Settings.N} each, {b.Settings.Steps} DDIM steps, guidance " +
                $"{b.Settings.Guidance.ToString(CultureInfo.InvariantCulture)}), {images} generations judged, in {(clock.Elapsed - start).TotalSeconds:F0} s");
        }
        if (extra is not null)
        {
            // One column per "set" the rows name (images saved by --save-images), else one for the whole file.
            string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(imagesPath!));
            var judged = judge.Fidelity([.. extra.Select(x => (x.Caption, x.Image))]);
            var bySet = new Dictionary<string, FidelityTally>();
            for (int i = 0; i < judged.Count; i++)
            {
                string set = extra[i].Set ?? name;
                if (!bySet.TryGetValue(set, out var tally)) bySet[set] = tally = new FidelityTally(set);
                tally.Add(judged[i]);
                rows.Add(VerdictRow(set, judged[i], null, extra[i].File));
            }
            tallies.AddRange(bySet.Values);
        }
        if (tallies.Count == 0) throw new DejaException("judge eval: nothing to evaluate (--synthetic 0, no generations, no --images)");
        if (verdictsPath is not null)
        {
            File.WriteAllLines(verdictsPath + ".tmp", rows);
            File.Move(verdictsPath + ".tmp", verdictsPath, overwrite: true);
        }
        if (json) Console.WriteLine(new JsonArray([.. tallies.Select(t => (JsonNode)t.ToJson())]).ToJsonString(new() { WriteIndented = true }));
        else PrintTable(tallies);
        return ExitCodes.Ok;
    }

    /// <summary>Writes one generation as DIR/images/NNNNN-g.png (atomically) and returns its images.jsonl row.</summary>
    static string SaveImage(string dir, List<string> rows, string caption, string set, int generation, float[] image, int size)
    {
        var images = Path.Combine(dir, "images");
        Directory.CreateDirectory(images);
        string name = $"{rows.Count:D5}-{generation}.png", path = Path.Combine(images, name);
        var unit = image.Select(v => v / 2 + 0.5f).ToArray();
        using (var t = Tensor.FromArray(unit, 3, size, size)) Deja.Diffusion.Images.Png.Write(path + ".tmp", Deja.Diffusion.Images.Image.FromTensor01(t));
        File.Move(path + ".tmp", path, overwrite: true);
        rows.Add(new JsonObject { ["caption"] = caption, ["image"] = $"images/{name}", ["set"] = set, ["generation"] = generation }.ToJsonString());
        return path;
    }

    static string VerdictRow(string set, FidelityVerdict v, int? generation, string? file)
    {
        var row = new JsonObject { ["set"] = set, ["caption"] = v.Caption };
        if (generation is { } g) row["generation"] = g;
        if (file is not null) row["image"] = file;
        row["fidelity"] = Math.Round(v.Fidelity, 5);
        row["missed"] = new JsonArray([.. v.Attributes.Where(a => !a.Correct).Select(a => (JsonNode)new JsonObject
        {
            ["attribute"] = a.Attribute, ["object"] = a.Object, ["expected"] = a.Expected, ["found"] = a.Found,
        })]);
        row["hidden_objects"] = v.HiddenObjects.Count;
        row["extra_objects"] = v.ExtraObjects;
        return row.ToJsonString();
    }

    /// <summary>One column per image set: per-attribute share found, all attributes, mean fidelity, empty cells, image count.</summary>
    static void PrintTable(IReadOnlyList<FidelityTally> tallies)
    {
        int width = Math.Max(12, tallies.Max(t => t.Name.Length) + 2);
        string Row(string label, Func<FidelityTally, string> cell) => $"  {label,-16}" + string.Concat(tallies.Select(t => cell(t).PadLeft(width)));
        Console.WriteLine("caption attributes found (accuracy where the content is known: synthetic, replicated; fidelity otherwise):");
        Console.WriteLine(Row("", t => t.Name));
        foreach (var a in FidelityVerdict.AttributeNames) Console.WriteLine(Row(a, t => Percent(t.Accuracy(a))));
        Console.WriteLine(Row("all attributes", t => Percent(t.AllAttributes)));
        Console.WriteLine(Row("mean fidelity", t => Percent(t.MeanFidelity)));
        Console.WriteLine(Row("empty cells", t => Percent(t.EmptyCellAccuracy)));
        Console.WriteLine(Row("images", t => t.Images.ToString(CultureInfo.InvariantCulture)));
    }
}
