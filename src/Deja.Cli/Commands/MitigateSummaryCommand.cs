using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Deja.Memorization.Detection;
using Deja.Memorization.Fidelity;
using Deja.Memorization.Mitigation;
using Deja.Memorization.Replication;
using Deja.Tensors;

namespace Deja.Cli;

/// <summary>
/// `deja mitigate-summary`: the mitigation table (issue 14 §4) from `deja mitigate --out` folders — each
/// measured from its PNGs by replication and caption fidelity (as a sweep point is) and given 95 %
/// percentile-bootstrap intervals over its captions. One row per folder, as Markdown or JSON lines. With
/// --guard-plain, also the guard's rows: what `generate --guard` gives at each threshold, composed from the
/// plain and each mitigated folder (<see cref="GuardComposition"/>).
/// </summary>
public static class MitigateSummaryCommand
{
    public static Command Create()
    {
        var folders = new Argument<string[]>("folders") { Description = "`deja mitigate --out` folders (any model or method; each is one row)", Arity = ArgumentArity.OneOrMore };
        var data = new Option<string>("--data") { Description = "The training set replication is measured against (a deja synth folder; the bundled deja-mini's: deja synth --out DIR --seed 0)", Required = true };
        var judgeDir = new Option<string?>("--judge") { Description = "The caption-fidelity judge (default: the bundled data/models/deja-judge)" };
        var noJudge = new Option<bool>("--no-fidelity") { Description = "Skip caption fidelity (captions the judge cannot read, or images of another size)" };
        var resamples = new Option<int>("--resamples") { Description = "Bootstrap resamples over captions", DefaultValueFactory = _ => 1000 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the bootstrap", DefaultValueFactory = _ => 0UL };
        var json = new Option<bool>("--json") { Description = "One JSON row per folder instead of the Markdown table" };
        var guardPlain = new Option<string?>("--guard-plain") { Description = "The un-mitigated (--method none) folder of the same prompts, seeds and model: adds the guard's rows, each caption taken from the mitigated folder when its score_before is above the threshold, else from this one" };
        var calibrations = new Option<string[]>("--calibration") { Description = "With --guard-plain: guard at the threshold of this deja calibrate file (repeatable; checked against the folders' model, scorer and n)", AllowMultipleArgumentsPerToken = true };
        var thresholds = new Option<double[]>("--guard-threshold") { Description = "With --guard-plain: guard at this score threshold (repeatable)", AllowMultipleArgumentsPerToken = true };
        var cmd = new Command("mitigate-summary", "Measure `deja mitigate` output folders (replication, caption fidelity, anisotropy after, seconds) with bootstrap intervals: the mitigation table\n\n" +
            "Example: deja mitigate-summary runs/verbatim-none runs/verbatim-prompt --data synth\n" +
            "         deja mitigate-summary runs/heldout-prompt --guard-plain runs/heldout-none --calibration calibration.json --data synth")
        {
            folders, data, judgeDir, noJudge, resamples, seed, json, guardPlain, calibrations, thresholds,
        };
        cmd.SetAction(pr =>
        {
            var list = pr.GetValue(folders)!;
            int count = pr.GetValue(resamples);
            if (count < 1) throw new DejaException($"mitigate-summary: --resamples must be at least 1, got {count}");
            var first = GeneratedImages.Read(list[0]);
            CaptionJudge? judge = null;
            if (!pr.GetValue(noJudge))
            {
                string dir = pr.GetValue(judgeDir) ?? DetectCommand.DataFolder(Path.Combine("models", "deja-judge"))
                    ?? throw new DejaException("mitigate-summary: the bundled judge data/models/deja-judge was not found; give --judge or --no-fidelity");
                judge = CaptionJudge.Load(dir);
                if (judge.ImageSize != first.Size) throw new DejaException($"mitigate-summary: the judge reads {judge.ImageSize}×{judge.ImageSize} images, {list[0]} holds {first.Size}×{first.Size}; give --no-fidelity");
            }
            string? plainFolder = pr.GetValue(guardPlain);
            var calibrationFiles = pr.GetValue(calibrations) ?? [];
            var guardThresholds = pr.GetValue(thresholds) ?? [];
            if (plainFolder is null && (calibrationFiles.Length > 0 || guardThresholds.Length > 0))
                throw new DejaException("mitigate-summary: --calibration and --guard-threshold need --guard-plain (the un-mitigated folder of the same prompts)");
            if (plainFolder is not null && calibrationFiles.Length == 0 && guardThresholds.Length == 0)
                throw new DejaException("mitigate-summary: --guard-plain needs a --calibration file or a --guard-threshold");
            var guards = plainFolder is null ? [] : GuardThresholds(CheckedPlain(plainFolder, list), plainFolder, calibrationFiles, guardThresholds);
            var synth = SynthReplicationData.Load(pr.GetValue(data)!, first.Size, log: m => Console.Error.WriteLine($"deja mitigate-summary: {m}"));
            var measurement = new MitigationMeasurement { Data = synth, Judge = judge };
            bool asJson = pr.GetValue(json);
            if (!asJson) Console.WriteLine(MitigationSummary.MarkdownHeader);
            void Print(SweepPoint point)
            {
                var summary = MitigationSummary.Of(point, count, pr.GetValue(seed));
                Console.WriteLine(asJson ? summary.ToJson().ToJsonString() : summary.ToMarkdown());
            }
            static string Name(string folder) => Path.GetFileName(Path.TrimEndingDirectorySeparator(folder));
            var plain = plainFolder is null ? null : measurement.Measure(plainFolder, Name(plainFolder));
            if (plain is not null) Print(plain);
            foreach (var folder in list)
            {
                var point = measurement.Measure(folder, Name(folder));
                if (plain is not null)
                    foreach (var (threshold, source) in guards) Print(GuardComposition.Compose(plain, point, threshold, source));
                Print(point);
            }
            return ExitCodes.Ok;
        });
        return cmd;
    }

    /// <summary>
    /// The un-mitigated folder, checked before anything is measured or printed: method none, and the model
    /// and captions of every mitigated folder (GuardComposition checks the same again, per caption).
    /// </summary>
    static GeneratedImages CheckedPlain(string plainFolder, string[] folders)
    {
        var plain = GeneratedImages.Read(plainFolder);
        if (plain.Method != "none") throw new DejaException($"mitigate-summary: --guard-plain {plainFolder} holds method {plain.Method}; the un-mitigated side must be a --method none folder");
        var captions = plain.Captions.ToHashSet(StringComparer.Ordinal);
        foreach (var folder in folders)
        {
            var other = GeneratedImages.Read(folder);
            if (other.ModelId != plain.ModelId) throw new DejaException($"mitigate-summary: {folder} was generated by model {other.ModelId}, --guard-plain {plainFolder} by {plain.ModelId}");
            if (!captions.SetEquals(other.Captions))
                throw new DejaException($"mitigate-summary: {folder} and --guard-plain {plainFolder} hold different captions ({other.Captions.Count} and {plain.Captions.Count}); run both on the same --prompts");
        }
        return plain;
    }

    /// <summary>The guard's thresholds: each calibration's (checked against the plain folder's model, scorer and n), then the raw ones.</summary>
    static List<(double Threshold, string Source)> GuardThresholds(GeneratedImages plain, string folder, string[] calibrationFiles, double[] raw)
    {
        var list = new List<(double, string)>();
        foreach (var file in calibrationFiles)
        {
            var calibration = Calibration.Load(file);
            if (plain.Scorer is null || plain.ScorerParameters is null || plain.NoiseDraws is not { } n)
                throw new DejaException($"mitigate-summary: {folder}'s rows record no scorer or noise; a calibration cannot be checked against them");
            // The built-in detectors' decision column is named after the method ("anisotropy").
            var model = new JsonObject { ["id"] = plain.ModelId, ["name"] = folder };
            double threshold = GuardedGeneration.CalibratedThreshold(calibration, model.ToJsonString(), plain.Scorer, plain.Scorer, plain.ScorerParameters, n);
            list.Add((threshold, string.Create(CultureInfo.InvariantCulture,
                $"{Path.GetFileName(file)} (score > {threshold:F3}, FPR {calibration.FlaggedNegatives}/{calibration.Negatives})")));
        }
        foreach (var t in raw)
        {
            if (!double.IsFinite(t)) throw new DejaException($"mitigate-summary: --guard-threshold must be finite, got {t}");
            list.Add((t, string.Create(CultureInfo.InvariantCulture, $"score > {t:G6}")));
        }
        return list;
    }
}
