using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Deja.Diffusion.Text;
using Deja.Diffusion.Training;
using Deja.Tensors;

namespace Deja.Cli;

/// <summary>
/// `deja train`: trains a mini text-to-image model on a captioned image folder, with periodic resumable
/// checkpoints (a killed run continues where it stopped when started again with the same --out),
/// progress with loss and ETA, the loss curve in OUT/train_log.jsonl, and the EMA weights saved in
/// the diffusers layout at the end.
/// </summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "Dataset folder: captions.jsonl ({\"file\", \"caption\", \"repeats\"}) and PNG images", Required = true };
        var output = new Option<string>("--out") { Description = "Model folder to write (diffusers layout); its checkpoint/ subfolder makes the run resumable", Required = true };
        var config = new Option<string>("--config") { Description = "Architecture: mini (32×32) or toy (16×16, for tests)", DefaultValueFactory = _ => "mini" };
        var steps = new Option<int>("--steps") { Description = "Optimizer steps", DefaultValueFactory = _ => 2500 };
        var batch = new Option<int>("--batch") { Description = "Images per step", DefaultValueFactory = _ => 32 };
        var lr = new Option<double>("--lr") { Description = "AdamW learning rate (after a linear warm-up)", DefaultValueFactory = _ => 1e-3 };
        var warmup = new Option<int>("--warmup") { Description = "Warm-up steps", DefaultValueFactory = _ => 200 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the initialization and of every step's draws", DefaultValueFactory = _ => 0UL };
        var dropout = new Option<double>("--condition-dropout") { Description = "Probability of training on the empty caption (classifier-free guidance)", DefaultValueFactory = _ => 0.1 };
        var ema = new Option<double>("--ema") { Description = "EMA decay of the saved weights", DefaultValueFactory = _ => 0.999 };
        var every = new Option<int>("--checkpoint-every") { Description = "Steps between checkpoints", DefaultValueFactory = _ => 100 };
        var snapshotEvery = new Option<int>("--snapshot-every") { Description = "Also save the EMA weights every this many steps as a model folder OUT/snapshots/step-N (e.g. a less-trained θ̃ for `deja localize --bad-model`); 0: never", DefaultValueFactory = _ => 0 };
        var augment = new Option<int>("--augment-random-tokens") { Description = "Wen et al.'s training baseline: insert N random words into every training caption, fresh at each step (README: 1); 0 = off", DefaultValueFactory = _ => 0 };
        var augmentKind = new Option<string>("--augment-kind") { Description = "rand_word_add, rand_numb_add or rand_word_repeat", DefaultValueFactory = _ => "rand_word_add" };
        var filter = new Option<double?>("--filter-threshold") { Description = "Wen et al.'s training-time mitigation: leave out samples whose ‖ε_c − ε_u‖ ≥ τ (README value 2)" };
        var offset = new Option<double>("--offset-noise") { Description = "Per-image, per-channel constant added to the training noise, N(0, s²), so that the mean colour is learned from the caption (0: off)", DefaultValueFactory = _ => 0.1 };
        var skipBad = new Option<bool>("--skip-bad") { Description = "Leave out unreadable or missing images (counted) instead of stopping" };
        var tokenizer = new Option<string>("--tokenizer") { Description = "CLIP tokenizer folder (vocab.json, merges.txt)", DefaultValueFactory = _ => DefaultTokenizer() };
        var cmd = new Command("train", "Train a mini text-to-image model (DDPM ε-objective) on a captioned image folder\n\nExample: deja train --data synth-data --out my-mini --config mini")
        {
            data, output, config, steps, batch, lr, warmup, seed, dropout, ema, every, snapshotEvery, filter, offset, skipBad, tokenizer, augment, augmentKind,
        };
        cmd.SetAction(pr => Run(pr.GetValue(data)!, pr.GetValue(output)!, MiniConfig.Get(pr.GetValue(config)!), new TrainerOptions
        {
            Steps = pr.GetValue(steps), BatchSize = pr.GetValue(batch), LearningRate = pr.GetValue(lr), WarmupSteps = pr.GetValue(warmup),
            Seed = pr.GetValue(seed), ConditionDropout = pr.GetValue(dropout), EmaDecay = pr.GetValue(ema),
            CheckpointEvery = pr.GetValue(every), FilterThreshold = pr.GetValue(filter), OffsetNoise = pr.GetValue(offset),
            AugmentRandomTokens = pr.GetValue(augment), AugmentKind = ParseAugmentKind(pr.GetValue(augmentKind)!),
        }, pr.GetValue(skipBad), pr.GetValue(tokenizer)!, pr.GetValue(snapshotEvery)));
        return cmd;
    }

    /// <summary>The CLIP tokenizer shipped with the repository (the real CLIP BPE vocabulary).</summary>
    public static string DefaultTokenizer()
    {
        foreach (var relative in new[] { Path.Combine("data", "tokenizers", "clip"), Path.Combine("testdata", "golden", "tiny-sd1", "tokenizer") })
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            {
                var candidate = Path.Combine(d.FullName, relative);
                if (File.Exists(Path.Combine(candidate, "vocab.json"))) return candidate;
            }
        return Path.Combine(AppContext.BaseDirectory, "tokenizer");
    }

    static int Run(string dataDir, string outDir, MiniConfig config, TrainerOptions options, bool skipBad, string tokenizerDir, int snapshotEvery)
    {
        options.Validate();
        if (snapshotEvery < 0) throw new ArgumentException($"train: --snapshot-every must be non-negative, got {snapshotEvery}");
        OutputPath.CheckFolder(outDir, "--out");
        var dataset = CaptionedImageFolder.Load(dataDir, config.ImageSize, skipBad);
        foreach (var s in dataset.Skipped) Console.Error.WriteLine($"deja train: left out {s}");
        long images = dataset.Examples.Sum(e => (long)e.Repeats);
        var trainer = new Trainer(config, options, ClipTokenizer.Load(tokenizerDir));
        var checkpointDir = Path.Combine(outDir, "checkpoint");
        Directory.CreateDirectory(outDir);
        if (Trainer.HasCheckpoint(checkpointDir))
        {
            trainer.LoadCheckpoint(checkpointDir);
            Console.Error.WriteLine($"deja train: resuming {outDir} from step {trainer.Step}");
        }
        Console.Error.WriteLine($"deja train: {config.Name} ({trainer.UNet.ParameterCount() / 1e6:F2} M UNet + {trainer.TextModel.ParameterCount() / 1e6:F2} M text parameters), " +
            $"{dataset.Examples.Count} images ({images} with repeats) from {dataDir}, {options.Steps} steps of {options.BatchSize}");
        var logPath = Path.Combine(outDir, "train_log.jsonl");
        using var interruption = new Interruption("deja train", "saving a checkpoint after the step in flight");
        int startStep = trainer.Step;
        var progress = trainer.Step < options.Steps ? new Progress("train", options.Steps - startStep) : null;
        var window = new Queue<double>();
        var pending = new List<string>();
        try
        {
            trainer.Train(dataset.Examples,
                checkpoint: t =>
                {
                    File.AppendAllLines(logPath, pending);
                    pending.Clear();
                    t.SaveCheckpoint(checkpointDir);
                },
                onStepDone: t =>
                {
                    if (snapshotEvery <= 0 || t.Step % snapshotEvery != 0 || t.Step == options.Steps) return;
                    var dir = Path.Combine(outDir, "snapshots", $"step-{t.Step}");
                    Directory.CreateDirectory(dir);
                    t.WithEmaWeights(() => TrainedModelExport.Save(t, dir, tokenizerDir));
                },
                onStep: s =>
                {
                    if (!s.Skipped) { window.Enqueue(s.Loss); if (window.Count > 50) window.Dequeue(); }
                    var row = new JsonObject
                    {
                        ["step"] = s.Step, ["loss"] = s.Skipped ? null : Math.Round(s.Loss, 6), ["lr"] = s.LearningRate,
                        ["kept"] = s.Kept, ["seconds"] = Math.Round(s.Elapsed.TotalSeconds, 2),
                    };
                    if (s.Norms is not null && s.Repeats is not null)
                    {
                        // the filter's r per sample beside its image's repeat count: τ's effect by kind, read from the log
                        row["norms"] = new JsonArray([.. s.Norms.Select(v => (JsonNode?)Math.Round(v, 4))]);
                        row["repeats"] = new JsonArray([.. s.Repeats.Select(v => (JsonNode?)v)]);
                    }
                    pending.Add(row.ToJsonString());
                    progress?.Report(s.Step - startStep, $"loss {(window.Count > 0 ? window.Average() : double.NaN).ToString("0.0000", CultureInfo.InvariantCulture)}", s.Elapsed);
                },
                cancel: interruption.Token);
        }
        catch (OperationCanceledException) when (interruption.Requested)
        {
            File.AppendAllLines(logPath, pending);
            trainer.SaveCheckpoint(checkpointDir);
            Console.Error.WriteLine($"deja train: stopped by {interruption.SignalName} at step {trainer.Step}; checkpoint saved in {checkpointDir}, run the same command to resume");
            return interruption.ExitCode;
        }
        trainer.UseEmaWeights();
        TrainedModelExport.Save(trainer, outDir, tokenizerDir);
        Console.Error.WriteLine($"deja train: saved the EMA weights to {outDir} (diffusers layout); loss curve in {logPath}");
        return 0;
    }

    static RandomTokenKind ParseAugmentKind(string text)
    {
        try { return RandomTokenAugmentation.ParseKind(text); }
        catch (DejaException) { throw new ArgumentException($"--augment-kind must be rand_word_add, rand_numb_add or rand_word_repeat, got '{text}'"); }
    }
}
