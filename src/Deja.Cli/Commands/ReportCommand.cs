using System.CommandLine;
using Deja.Memorization.Evaluation;
using Deja.Memorization.Reporting;
using Deja.Tensors;

namespace Deja.Cli;

/// <summary>`deja report`: one self-contained HTML file from detect/eval, explain, localize and mitigate outputs (<see cref="HtmlReport"/>).</summary>
public static class ReportCommand
{
    public static Command Create()
    {
        var inputs = new Argument<string[]>("inputs")
        {
            Description = "Score files (deja detect), explain files (deja explain --json), a calibration file, localize or mitigate folders, " +
                          "or a benchmark detect folder (memorized.M.jsonl + nonmemorized.M.jsonl); recognised by their content",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var output = new Option<string>("--out") { Description = "HTML file to write (atomically)", Required = true };
        var positives = new Option<string[]>("--positives") { Description = "Score files of memorized prompts (for ROC, metrics and histograms)", AllowMultipleArgumentsPerToken = true };
        var negatives = new Option<string[]>("--negatives") { Description = "Score files of non-memorized prompts", AllowMultipleArgumentsPerToken = true };
        var calibration = new Option<string?>("--calibration") { Description = "Calibration file (deja calibrate): the threshold drawn in the histograms and used to flag prompts" };
        var title = new Option<string>("--title") { Description = "Title of the report", DefaultValueFactory = _ => "Deja memorization report" };
        var top = new Option<int>("--top") { Description = "Rows of the top-scored prompts table (0: none)", DefaultValueFactory = _ => 20 };
        var maxPrompts = new Option<int>("--max-prompts") { Description = "Prompts shown per picture section (token bars, heatmaps, mitigation images)", DefaultValueFactory = _ => 8 };
        var bins = new Option<int>("--bins") { Description = "Histogram bins", DefaultValueFactory = _ => 30 };
        var columns = new Option<string?>("--columns") { Description = "Comma-separated score columns to evaluate and plot (default: all present in every row)" };
        var bootstrap = new Option<int>("--bootstrap") { Description = "Bootstrap resamples for the 95% intervals (0: none)", DefaultValueFactory = _ => 1000 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the bootstrap", DefaultValueFactory = _ => 0 };
        var allowMixed = new Option<bool>("--allow-mixed") { Description = "Report even when score files or the calibration come from different models, methods or parameters (warnings instead of a refusal)" };
        var cmd = new Command("report", "Write one self-contained HTML report (ROC, metrics with CIs, histograms, top prompts, token bars, heatmaps, " +
            "before/after mitigation images); no scripts, no network\n\n" +
            "Example: deja report --out report.html --positives mem.jsonl --negatives nonmem.jsonl --calibration calibration.json explain.jsonl loc mitigated")
        {
            inputs, output, positives, negatives, calibration, title, top, maxPrompts, bins, columns, bootstrap, seed, allowMixed,
        };
        cmd.SetAction(pr => Run(pr.GetValue(inputs) ?? [], pr.GetValue(output)!, pr.GetValue(positives) ?? [], pr.GetValue(negatives) ?? [],
            pr.GetValue(calibration), pr.GetValue(allowMixed), new ReportOptions
            {
                Title = pr.GetValue(title)!, Top = pr.GetValue(top), MaxPrompts = pr.GetValue(maxPrompts), Bins = pr.GetValue(bins),
                Columns = pr.GetValue(columns)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                Evaluation = new EvaluationOptions { BootstrapResamples = pr.GetValue(bootstrap), Seed = pr.GetValue(seed) },
            }));
        return cmd;
    }

    static int Run(string[] inputs, string output, string[] positives, string[] negatives, string? calibration, bool allowMixed, ReportOptions options)
    {
        options.Validate();
        OutputPath.CheckFile(output, "--out", OutputUse.Write);
        var read = ReportInputs.Read(inputs, positives, negatives, calibration, allowMixed);
        foreach (var w in read.Warnings) Console.Error.WriteLine($"deja report: warning: {w}");
        HtmlReport.Write(output, read, options);
        Console.WriteLine($"report: {output} ({new FileInfo(output).Length:N0} bytes)");
        return ExitCodes.Ok;
    }
}
