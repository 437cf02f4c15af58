using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Deja.Memorization.Detection;
using Deja.Memorization.Evaluation;
using Deja.Tensors;

namespace Deja.Cli;

/// <summary>
/// `deja calibrate`: the decision threshold of a detector at a target false-positive rate, chosen on
/// prompts known not to be memorized (scored here through the same <see cref="DetectSetup"/> and
/// <see cref="DetectionRun"/> as deja detect, or read from a detect output), written as a calibration
/// file that detect --calibration and the screening callers apply (rule and format: <see cref="Calibration"/>).
/// </summary>
public static class CalibrateCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "Pipeline folder (diffusers layout), or analytic[:SEED]; with --prompts" };
        var prompts = new Option<string?>("--prompts") { Description = "Known non-memorized prompts (one per line, or JSONL with a prompt/caption field), scored here as deja detect scores them" };
        var scores = new Option<string?>("--scores") { Description = "Instead of --model/--prompts: a deja detect output (JSONL) of known non-memorized prompts, all of one model, method and parameter set" };
        var fpr = new Option<double>("--fpr") { Description = "Target false-positive rate on the negatives, strictly between 0 and 1 (at least 1/N for N negatives)", Required = true };
        var column = new Option<string?>("--column") { Description = "Score column to threshold (default: the method's decision score, the rows' first column)" };
        var output = new Option<string>("--out") { Description = "Calibration file to write (JSON, replaced atomically)", Required = true };
        var options = new DetectOptions();
        var cmd = new Command("calibrate", "Choose a detector's threshold at a target false-positive rate on known non-memorized prompts (flagged ⇔ score > threshold)\n\n" +
            "Example: deja calibrate --model data/models/deja-mini --prompts data/benchmarks/deja-mini/nonmemorized.txt --fpr 0.01 --out calibration.json")
        {
            model, prompts, scores, fpr, column,
        };
        options.AddTo(cmd);
        cmd.Options.Add(output);
        cmd.SetAction(pr =>
        {
            string outPath = pr.GetValue(output)!;
            double target = pr.GetValue(fpr);
            Calibration.CheckTarget(target);
            OutputPath.CheckFile(outPath, "--out", OutputUse.Replace);
            if (pr.GetValue(scores) is { } scoresPath)
            {
                if (pr.GetValue(prompts) is not null || pr.GetValue(model) is not null)
                    throw new DejaException("calibrate: give either --scores FILE or --model DIR --prompts FILE, not both");
                if (options.Given(pr).FirstOrDefault() is { } given)
                    throw new DejaException($"calibrate: {given} does not apply to --scores: the method and its parameters are the ones recorded in the rows of {scoresPath}");
                return FromScores(scoresPath, target, pr.GetValue(column), outPath);
            }
            if (pr.GetValue(prompts) is null) throw new DejaException("calibrate: give the known non-memorized prompts: --model DIR --prompts FILE, or --scores FILE from deja detect");
            if (pr.GetValue(model) is null) throw new DejaException("calibrate: --model is required with --prompts");
            var settings = options.Read(pr);
            settings.Validate();
            return Score(pr.GetValue(model)!, pr.GetValue(prompts)!, settings, target, pr.GetValue(column), outPath);
        });
        return cmd;
    }

    /// <summary>Scores the negatives in memory (no resume: for long runs, detect them into a file and use --scores) and calibrates on them.</summary>
    static int Score(string modelSpec, string promptPath, DetectSettings settings, double target, string? column, string outPath)
    {
        var clock = Stopwatch.StartNew();
        var setup = DetectSetup.Open("calibrate", modelSpec, promptPath, settings);
        // Refused before any scoring: a target below 1/N, or a column the run does not produce.
        Calibration.MaxFalsePositives(setup.Prompts.Count, target);
        var columns = setup.Run.Detectors.SelectMany(d => d.ScoreNames).ToList();
        if (column is not null && !columns.Contains(column))
            throw new DejaException($"calibrate: --column {column} is not a score of {setup.Run.Method} (its columns: {string.Join(", ", columns)})");
        Console.Error.WriteLine($"deja calibrate: {setup.View.Name} (id {setup.View.Id}), {setup.Run.Method}, {setup.Prompts.Count} negatives from {promptPath}, " +
            $"n = {setup.Noise.Generations}, batch {settings.Batch}, loaded in {clock.Elapsed.TotalSeconds:F1} s");

        var rows = new List<ScoreRow>();
        var progress = new Progress("calibrate", setup.Prompts.Count);
        var work = Stopwatch.StartNew();
        foreach (var batch in setup.Run.Run(setup.Prompts))
        {
            rows.AddRange(batch.Select(r => setup.ToRow(r)));
            progress.Report(rows.Count, "", work.Elapsed);
        }
        Console.Error.WriteLine($"deja calibrate: scored {rows.Count} negatives in {work.Elapsed.TotalSeconds:F1} s ({work.Elapsed.TotalSeconds / rows.Count:F2} s/prompt)");
        return Write(Calibration.FromScores(rows, target, column, Path.GetFileName(promptPath)), outPath);
    }

    static int FromScores(string scoresPath, double target, string? column, string outPath)
    {
        var rows = ScoresFile.Read(scoresPath, out long ignored);
        if (ignored > 0)
            Console.Error.WriteLine($"deja calibrate: {scoresPath} ends in a partial line ({ignored} bytes, from an interrupted run); it is left out");
        return Write(Calibration.FromScores(rows, target, column, scoresPath), outPath);
    }

    static int Write(Calibration calibration, string outPath)
    {
        calibration.Save(outPath);
        Console.WriteLine($"threshold {calibration.Column} > {DetectCommand.Threshold(calibration)}: flags {calibration.FlaggedNegatives} of {calibration.Negatives} negatives " +
            $"(FPR {DetectCommand.Number(calibration.AchievedFpr)} ≤ target {DetectCommand.Number(calibration.TargetFpr)}, at most {Calibration.MaxFalsePositives(calibration.Negatives, calibration.TargetFpr)} allowed)");
        Console.WriteLine($"{calibration.ModelName} (id {calibration.ModelId}), {calibration.Method} → {outPath}");
        return ExitCodes.Ok;
    }
}
