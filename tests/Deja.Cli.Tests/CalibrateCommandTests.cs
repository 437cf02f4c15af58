using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Deja.Cli.Tests.Support;
using Deja.Memorization.Detection;
using Deja.Memorization.Evaluation;

namespace Deja.Cli.Tests;

/// <summary>`deja calibrate` (a threshold at a target FPR on known negatives) and `deja detect --calibration`.</summary>
public class CalibrateCommandTests
{
    static readonly string MiniModel = Path.Combine(Repo.Root, "data", "models", "deja-mini");
    static readonly string Benchmark = Path.Combine(Repo.Root, "data", "benchmarks", "deja-mini");
    static readonly string Negatives = Path.Combine(Benchmark, "nonmemorized.txt"), Memorized = Path.Combine(Benchmark, "memorized.txt");

    [Fact]
    public void DetectWithTheCalibrationFlagsExactlyTheRowsAboveTheThreshold()
    {
        using var dir = new TempDir();
        // 20 negatives at FPR 0.1: at most 2 may be flagged, so the threshold is their 3rd largest score.
        var calibrate = Support.Deja.Run(dir.Path, "calibrate", "--model", MiniModel, "--prompts", Negatives, "--limit", "20", "--fpr", "0.1", "--out", "cal.json");
        Assert.True(calibrate.ExitCode == 0, calibrate.ToString());
        var calibration = Calibration.Load(dir.File("cal.json"));
        Assert.Equal((20, 0.1, "anisotropy", "anisotropy", "deja-mini"), (calibration.Negatives, calibration.TargetFpr, calibration.Column, calibration.Method, calibration.ModelName));

        // The same negatives through detect (no --calibration: rows exactly as before, no new members) ...
        var negatives = Support.Deja.Run(dir.Path, "detect", "--model", MiniModel, "--prompts", Negatives, "--limit", "20", "--out", "neg.jsonl");
        Assert.True(negatives.ExitCode == 0, negatives.ToString());
        Assert.DoesNotContain("flagged", File.ReadAllText(dir.File("neg.jsonl")));
        var negativeRows = ScoresFile.Read(dir.File("neg.jsonl"));
        Assert.All(negativeRows, r => Assert.Equal("{}", r.ExtraJson));
        // ... give the same threshold by the rule applied by hand, and through --scores.
        var scores = negativeRows.Select(r => r.Scores["anisotropy"]).ToArray();
        double third = scores.OrderDescending().ElementAt(2);
        Assert.Equal(third, calibration.Threshold);
        Assert.Equal(scores.Count(s => s > third), calibration.FlaggedNegatives);
        Assert.Contains($"threshold anisotropy > {third.ToString("R", CultureInfo.InvariantCulture)}: flags {calibration.FlaggedNegatives} of 20 negatives", calibrate.Out);
        var fromScores = Support.Deja.Run(dir.Path, "calibrate", "--scores", "neg.jsonl", "--fpr", "0.1", "--out", "cal2.json");
        Assert.True(fromScores.ExitCode == 0, fromScores.ToString());
        Assert.Equal(calibration.Threshold, Calibration.Load(dir.File("cal2.json")).Threshold);
        Assert.Equal(calibration.ParamsJson, Calibration.Load(dir.File("cal2.json")).ParamsJson);

        var detect = Support.Deja.Run(dir.Path, "detect", "--model", MiniModel, "--prompts", Memorized, "--limit", "8", "--calibration", "cal.json", "--out", "mem.jsonl");
        Assert.True(detect.ExitCode == 0, detect.ToString());
        var rows = ScoresFile.Read(dir.File("mem.jsonl"));
        Assert.Equal(8, rows.Count);
        foreach (var row in rows)
        {
            var extra = JsonNode.Parse(row.ExtraJson)!;
            Assert.Equal(row.Scores["anisotropy"] > third, (bool)extra["flagged"]!);
            Assert.Equal(third, (double)extra["threshold"]!);
            Assert.Equal("anisotropy", (string)extra["threshold_column"]!);
        }
        int expected = rows.Count(r => r.Scores["anisotropy"] > third);
        var summary = Regex.Match(detect.Out, @"flagged (\d+) of 8 prompts in mem\.jsonl: anisotropy > ");
        Assert.True(summary.Success, detect.ToString());
        Assert.Equal(expected, int.Parse(summary.Groups[1].Value, CultureInfo.InvariantCulture));

        // A rerun without the calibration cannot append unflagged rows to the flagged file.
        var mixed = Support.Deja.Run(dir.Path, "detect", "--model", MiniModel, "--prompts", Memorized, "--limit", "9", "--out", "mem.jsonl");
        Assert.True(mixed.ExitCode == 1, mixed.ToString());
        Assert.StartsWith("deja: mem.jsonl has rows flagged with a calibration, e.g. prompt 0", Assert.Single(mixed.ErrorLines));
        Assert.Equal(8, ScoresFile.Read(dir.File("mem.jsonl")).Count);
    }

    [Fact]
    public void ACalibrationOfAnotherModelMethodOrParameterSetIsRefusedBeforeAnyRowIsWritten()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir.File("neg.txt"), Enumerable.Range(0, 10).Select(i => $"a photo of thing number {i}"));
        var tiny = Repo.TinyPipeline("tiny-sd1");
        var made = Support.Deja.Run(dir.Path, "calibrate", "--model", tiny, "--prompts", "neg.txt", "--fpr", "0.1", "--out", "cal.json");
        Assert.True(made.ExitCode == 0, made.ToString());

        void Refused(string expectedStart, params string[] args)
        {
            var r = Support.Deja.Run(dir.Path, ["detect", "--prompts", "neg.txt", "--calibration", "cal.json", "--out", "s.jsonl", .. args]);
            Assert.True(r.ExitCode == 1, r.ToString());
            Assert.StartsWith(expectedStart, r.ErrorLines[^1]);
            Assert.DoesNotContain(r.ErrorLines, l => l.StartsWith("detect [", StringComparison.Ordinal)); // nothing was scored
            Assert.False(File.Exists(dir.File("s.jsonl")));
        }
        Refused("deja: calibration file 'cal.json' was made for model tiny-sd1 (id ", "--model", MiniModel);
        Refused("deja: calibration file 'cal.json' was made for method \"anisotropy\", this run uses \"magnitude\"; calibrate with the same --method", "--model", tiny, "--method", "magnitude");
        Refused("deja: calibration file 'cal.json' was made with other parameters (noise.n: 1 → 2, calibration → this run); calibrate with the same options", "--model", tiny, "--n", "2");
        Refused("deja: calibration file 'cal.json' was made with other parameters (anisotropy.gamma_norm: 1 → 3,", "--model", tiny, "--gamma-norm", "3");

        var same = Support.Deja.Run(dir.Path, "detect", "--model", tiny, "--prompts", "neg.txt", "--calibration", "cal.json", "--out", "s.jsonl");
        Assert.True(same.ExitCode == 0, same.ToString());
        // The calibration's own negatives: exactly its count flagged (in-sample, the same scores).
        Assert.Contains($"flagged {Calibration.Load(dir.File("cal.json")).FlaggedNegatives} of 10 prompts in s.jsonl", same.Out);
    }

    [Fact]
    public void BadInputStopsWithOneLineAndWritesNothing()
    {
        using var dir = new TempDir();
        var tiny = Repo.TinyPipeline("tiny-sd1");
        File.WriteAllLines(dir.File("neg.txt"), Enumerable.Range(0, 10).Select(i => $"a photo of thing number {i}"));
        File.WriteAllText(dir.File("empty.txt"), "");
        File.WriteAllText(dir.File("corrupt.json"), "{\"format\": \"deja-calibration\", ");
        File.WriteAllText(dir.File("types.json"), "{\"format\": \"deja-calibration\", \"version\": \"1\"}");
        ScoreFiles.Write(dir.File("a.jsonl"), [1, 2, 3], modelId: "model-a");
        ScoreFiles.Write(dir.File("b.jsonl"), [4, 5, 6], promptPrefix: "n", modelId: "model-b");
        File.WriteAllLines(dir.File("mixed.jsonl"), [.. File.ReadAllLines(dir.File("a.jsonl")), .. File.ReadAllLines(dir.File("b.jsonl"))]);

        void Refused(string expected, params string[] args)
        {
            var before = dir.Files();
            var r = Support.Deja.Run(dir.Path, args);
            Assert.True(r.ExitCode == 1, r.ToString());
            Assert.Equal(expected, Assert.Single(r.ErrorLines));
            Assert.Equal(before, dir.Files());
        }
        Refused("deja: calibrate: --fpr must be a false-positive rate strictly between 0 and 1, got 1.5", "calibrate", "--model", tiny, "--prompts", "neg.txt", "--fpr", "1.5", "--out", "c.json");
        Refused("deja: calibrate: --fpr must be a false-positive rate strictly between 0 and 1, got 0", "calibrate", "--scores", "a.jsonl", "--fpr", "0", "--out", "c.json");
        Refused("deja: Prompts file 'empty.txt': the file is empty", "calibrate", "--model", tiny, "--prompts", "empty.txt", "--fpr", "0.1", "--out", "c.json");
        Refused("deja: calibrate: --fpr 0.05 is below 1/10 = 0.1, so no negative may be flagged: the threshold would just be the largest of the 10 negative scores, " +
            "which says nothing about a 0.05 false-positive rate; give at least 20 negatives or --fpr ≥ 0.1", "calibrate", "--model", tiny, "--prompts", "neg.txt", "--fpr", "0.05", "--out", "c.json");
        Refused("deja: calibrate: mixed.jsonl mixes rows scored by different models: model-a (id model-a) vs model-b (id model-b): prompt 0 (\"m0\") and prompt 0 (\"n0\"); " +
            "score each run into its own file", "calibrate", "--scores", "mixed.jsonl", "--fpr", "0.5", "--out", "c.json");
        Refused("deja: calibrate: --seed does not apply to --scores: the method and its parameters are the ones recorded in the rows of a.jsonl", "calibrate", "--scores", "a.jsonl", "--seed", "3", "--fpr", "0.5", "--out", "c.json");
        Refused("deja: score file not found: none.jsonl", "calibrate", "--scores", "none.jsonl", "--fpr", "0.5", "--out", "c.json");
        Refused("deja: calibration file 'none.json' does not exist", "detect", "--model", tiny, "--prompts", "neg.txt", "--calibration", "none.json", "--out", "s.jsonl");
        Refused("deja: calibration file 'types.json': \"version\" must be an integer, got a string", "detect", "--model", tiny, "--prompts", "neg.txt", "--calibration", "types.json", "--out", "s.jsonl");
        var corrupt = Support.Deja.Run(dir.Path, "detect", "--model", tiny, "--prompts", "neg.txt", "--calibration", "corrupt.json", "--out", "s.jsonl");
        Assert.True(corrupt.ExitCode == 1, corrupt.ToString());
        Assert.StartsWith("deja: calibration file 'corrupt.json' is not valid JSON (", Assert.Single(corrupt.ErrorLines));
        Assert.False(File.Exists(dir.File("s.jsonl")));

        Assert.Contains("Example: deja calibrate --model", Support.Deja.Run(dir.Path, "calibrate", "--help").Out);
    }
}
