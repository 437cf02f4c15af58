using System.CommandLine;
using Deja.Memorization.Evaluation;
using Deja.Tensors;

namespace Deja.Cli;

/// <summary>`deja eval`: AUC, TPR at low FPR and accuracy of every score column, with bootstrap intervals and a ROC plot.</summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var positives = new Option<string[]>("--positives") { Description = "Score files of memorized prompts: JSONL from deja detect, or another tool's JSONL (flat rows with numeric fields) or CSV (with a header), whose score columns --columns names", Required = true, AllowMultipleArgumentsPerToken = true };
        var negatives = new Option<string[]>("--negatives") { Description = "Score files of non-memorized prompts", Required = true, AllowMultipleArgumentsPerToken = true };
        var svg = new Option<string?>("--svg") { Description = "ROC plot to write (default: roc.svg next to the first positives file)" };
        var bootstrap = new Option<int>("--bootstrap") { Description = "Bootstrap resamples for the 95% intervals (0: none)", DefaultValueFactory = _ => 1000 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the bootstrap", DefaultValueFactory = _ => 0 };
        var flip = new Option<bool>("--flip") { Description = "J's label flip: a column with AUC < 0.5 is scored with flipped labels (A does not flip)" };
        var bf16 = new Option<bool>("--bf16") { Description = "Round scores to bfloat16 first (parity with J and A, whose stored scores are bf16)" };
        var columns = new Option<string?>("--columns") { Description = "Comma-separated score columns to evaluate (default: all present in every row); required for other tools' JSONL and CSV files, and the error lists their numeric columns" };
        var json = new Option<bool>("--json") { Description = "Print machine-readable JSON instead of the table" };
        var allowMixed = new Option<bool>("--allow-mixed") { Description = "Evaluate even when the files were scored by different models, methods or parameters, or one file is given twice (a warning instead of a refusal)" };
        var cmd = new Command("eval", "Evaluate detection scores: AUC, TPR@1%/3% FPR, ACC with bootstrap intervals, and a ROC plot\n\n" +
            "Example: deja eval --positives mem.jsonl --negatives nonmem.jsonl --svg roc.svg\n" +
            "Example (another tool's CSV): deja eval --positives mem.csv --negatives nonmem.csv --columns loss")
        {
            positives, negatives, svg, bootstrap, seed, flip, bf16, columns, json, allowMixed,
        };
        cmd.SetAction(pr => Run(pr.GetValue(positives)!, pr.GetValue(negatives)!, pr.GetValue(svg), pr.GetValue(bootstrap),
            pr.GetValue(seed), pr.GetValue(flip), pr.GetValue(bf16), pr.GetValue(columns), pr.GetValue(json), pr.GetValue(allowMixed)));
        return cmd;
    }

    static int Run(string[] positiveFiles, string[] negativeFiles, string? svgPath, int bootstrap, ulong seed, bool flip, bool bf16, string? columns, bool json, bool allowMixed)
    {
        if (bootstrap < 0) throw new ArgumentException($"--bootstrap must be ≥ 0, got {bootstrap}");
        var columnList = columns?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var positiveSources = ReadAll(positiveFiles, columnList);
        var negativeSources = ReadAll(negativeFiles, columnList);
        var problems = ScoreInputCheck.Problems(positiveSources, negativeSources);
        if (problems.Count > 0 && !allowMixed)
            throw new DejaException($"eval: {problems[0]}" + (problems.Count > 1 ? $" (and {problems.Count - 1} more problem(s))" : "") +
                "; the comparison would not measure memorization. Pass --allow-mixed to evaluate them anyway");
        svgPath ??= Path.Combine(Path.GetDirectoryName(Path.GetFullPath(positiveFiles[0]))!, "roc.svg");
        OutputPath.CheckFile(svgPath, "--svg", OutputUse.Write);
        var positives = positiveSources.SelectMany(s => s.Rows).ToList();
        var negatives = negativeSources.SelectMany(s => s.Rows).ToList();
        var settings = new ScoreEvaluationSettings
        {
            Columns = columnList,
            BFloat16 = bf16,
            Options = new EvaluationOptions { BootstrapResamples = bootstrap, Seed = seed, FlipIfBelowHalf = flip },
        };
        var report = ScoreEvaluation.Evaluate(positives, negatives, settings);
        if (problems.Count > 0) report = report with { Warnings = [.. problems.Select(p => $"{p} (--allow-mixed)"), .. report.Warnings] };

        RocSvg.Write(svgPath, [.. report.Columns.Select(c => new RocSeries(c.Column, c.Result.Roc, c.Result.Point.Auc))],
            title: $"{Path.GetFileName(positiveFiles[0])} vs {Path.GetFileName(negativeFiles[0])}");

        if (json)
        {
            Console.WriteLine(ScoreEvaluationFormat.Json(report, new Dictionary<string, string>
            {
                ["positives"] = string.Join(",", positiveFiles), ["negatives"] = string.Join(",", negativeFiles), ["svg"] = svgPath,
            }));
            Console.Error.WriteLine($"deja eval: ROC plot written to {svgPath}");
        }
        else
        {
            Console.Write(ScoreEvaluationFormat.Table(report));
            Console.WriteLine($"ROC plot: {svgPath}");
        }
        return 0;
    }

    static List<ScoreSource> ReadAll(string[] files, string[]? columns)
    {
        var sources = new List<ScoreSource>();
        foreach (var file in files)
        {
            long ignored = 0;
            // Another tool's JSONL or CSV: its rows carry the --columns as scores, and no model or parameters.
            var source = ForeignScoreFile.IsForeign(file)
                ? new ScoreSource(file, ForeignScoreFile.Read(file, columns), Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(file))))
                : ScoreSource.Read(file, out ignored);
            if (ignored > 0)
                Console.Error.WriteLine($"deja eval: warning: {file} ends in a cut-off line ({ignored} bytes), ignored");
            if (source.Rows.Count == 0) throw new InvalidDataException($"{file}: no score rows (empty file)");
            sources.Add(source);
        }
        return sources;
    }
}
