using System.Text.Json;
using System.Text.Json.Nodes;
using Deja.Memorization.Detection;
using Deja.Memorization.Evaluation;
using Deja.Memorization.Explanation;
using Deja.Tensors;

namespace Deja.Memorization.Reporting;

/// <summary>A file of explain rows, with where it came from.</summary>
public sealed record ExplanationSource(string Path, IReadOnlyList<ExplanationRow> Rows);

/// <summary>
/// Everything a report is made from, read and checked up front so that a bad input stops the command
/// with one line before anything is written. Positional inputs are recognised by what they hold:
/// <list type="bullet">
/// <item>a score file (JSONL rows with "scores", from <c>deja detect</c>): scored prompts without a label;</item>
/// <item>an explain file (rows with "tokens" and no "scores", from <c>deja explain --json</c>);</item>
/// <item>a calibration file (<c>deja calibrate</c>'s JSON), the same as <c>--calibration</c>;</item>
/// <item>a folder with <c>localize.jsonl</c> (<c>deja localize</c>) or <c>mitigate.jsonl</c> (<c>deja mitigate</c>);</item>
/// <item>a benchmark detect folder (bare <c>deja detect</c>'s <c>memorized.M.jsonl</c> and <c>nonmemorized.M.jsonl</c>): positives and negatives.</item>
/// </list>
/// </summary>
public sealed class ReportInputs
{
    public IReadOnlyList<ScoreSource> Positives { get; init; } = [];
    public IReadOnlyList<ScoreSource> Negatives { get; init; } = [];
    /// <summary>Score files given without a label: their prompts are ranked and histogrammed, not evaluated.</summary>
    public IReadOnlyList<ScoreSource> Scored { get; init; } = [];
    public Calibration? Calibration { get; init; }
    public IReadOnlyList<ExplanationSource> Explanations { get; init; } = [];
    public IReadOnlyList<LocalizationFolder> Localizations { get; init; } = [];
    public IReadOnlyList<MitigationFolder> Mitigations { get; init; } = [];
    /// <summary>Problems that --allow-mixed turned from refusals into warnings, and notes on skipped lines.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    public bool HasLabels => Positives.Count > 0;
    public IEnumerable<ScoreSource> AllScores => Positives.Concat(Negatives).Concat(Scored);

    public static ReportInputs Read(IReadOnlyList<string> inputs, IReadOnlyList<string> positives, IReadOnlyList<string> negatives,
        string? calibrationPath, bool allowMixed)
    {
        if (inputs.Count == 0 && positives.Count == 0 && negatives.Count == 0)
            throw new DejaException("report: no inputs; give score files, explain files, localize or mitigate folders, or --positives and --negatives");
        if ((positives.Count == 0) != (negatives.Count == 0))
            throw new DejaException(positives.Count == 0 ? "report: --negatives needs --positives (the memorized prompts' score files)"
                                                         : "report: --positives needs --negatives (the non-memorized prompts' score files)");
        var warnings = new List<string>();
        var pos = positives.Select(p => ReadScores(p, "--positives", warnings)).ToList();
        var neg = negatives.Select(p => ReadScores(p, "--negatives", warnings)).ToList();
        var scored = new List<ScoreSource>();
        var explanations = new List<ExplanationSource>();
        var localizations = new List<LocalizationFolder>();
        var mitigations = new List<MitigationFolder>();
        var calibration = calibrationPath is null ? null : Calibration.Load(calibrationPath);

        foreach (var input in inputs)
        {
            if (Directory.Exists(input))
            {
                if (LocalizationFolder.Looks(input)) localizations.Add(LocalizationFolder.Read(input));
                else if (MitigationFolder.Looks(input)) mitigations.Add(MitigationFolder.Read(input));
                else if (BenchmarkPair(input) is { } pair)
                {
                    pos.Add(ReadScores(pair.Memorized, input, warnings));
                    neg.Add(ReadScores(pair.NonMemorized, input, warnings));
                }
                else throw new DejaException($"report: folder {input} is not a localize folder (localize.jsonl), a mitigate folder (mitigate.jsonl) " +
                                             "or a benchmark detect folder (memorized.METHOD.jsonl and nonmemorized.METHOD.jsonl)");
                continue;
            }
            if (!File.Exists(input)) throw new DejaException($"report: input {input} does not exist");
            switch (Kind(input))
            {
                case InputKind.Scores: scored.Add(ReadScores(input, "input", warnings)); break;
                case InputKind.Explanation: explanations.Add(new ExplanationSource(input, ExplanationFile.Read(input))); break;
                case InputKind.Calibration:
                    if (calibration is not null) throw new DejaException($"report: two calibrations ({calibration.Path} and {input}); give one");
                    calibration = Calibration.Load(input);
                    break;
            }
        }

        if (pos.Count > 0)
        {
            var problems = ScoreInputCheck.Problems(pos, neg);
            if (problems.Count > 0 && !allowMixed)
                throw new DejaException($"report: {problems[0]}" + (problems.Count > 1 ? $" (and {problems.Count - 1} more problem(s))" : "") +
                    "; the comparison would not measure memorization. Pass --allow-mixed to report them anyway");
            warnings.AddRange(problems.Select(p => $"{p} (--allow-mixed)"));
        }
        if (calibration is not null)
            foreach (var source in pos.Concat(neg).Concat(scored))
                try
                {
                    var row = source.Rows[0];
                    calibration.Check(row.ModelJson, row.Method, row.ParamsJson);
                    calibration.IsFlagged(row.Scores); // the column exists
                }
                catch (DejaException e) when (allowMixed) { warnings.Add($"{source.Path}: {e.Message} (--allow-mixed)"); }
                catch (DejaException e) { throw new DejaException($"report: {source.Path}: {e.Message}; or pass --allow-mixed", e); }

        return new ReportInputs
        {
            Positives = pos, Negatives = neg, Scored = scored, Calibration = calibration,
            Explanations = explanations, Localizations = localizations, Mitigations = mitigations, Warnings = warnings,
        };
    }

    enum InputKind { Scores, Explanation, Calibration }

    /// <summary>What a file holds, from its first JSON value: a calibration object, or the first row of a JSONL file.</summary>
    static InputKind Kind(string path)
    {
        var lines = ReportFiles.ReadLines(path);
        var whole = string.Join('\n', lines);
        try
        {
            if (JsonNode.Parse(whole) is JsonObject o && (string?)o["format"] == Calibration.FormatName) return InputKind.Calibration;
        }
        catch (JsonException) { } // not one JSON document: JSONL rows, read below
        var first = lines.FirstOrDefault(l => !string.IsNullOrWhiteSpace(l))
            ?? throw new DejaException($"report: {path} is empty");
        JsonObject? row;
        try { row = JsonNode.Parse(first) as JsonObject; }
        catch (JsonException e) { throw new DejaException($"report: {path}: not JSONL from deja detect or deja explain --json, nor a calibration file ({e.Message})", e); }
        if (row is null) throw new DejaException($"report: {path}: the first line is not a JSON object");
        if (row["scores"] is JsonObject) return InputKind.Scores;
        if (ExplanationFile.IsExplanationRow(row)) return InputKind.Explanation;
        throw new DejaException($"report: {path}: rows have neither \"scores\" (deja detect) nor \"tokens\" (deja explain --json)");
    }

    static ScoreSource ReadScores(string path, string option, List<string> warnings)
    {
        if (!File.Exists(path)) throw new DejaException($"report: {option} {path} does not exist");
        var source = ScoreSource.Read(path, out long ignored);
        if (ignored > 0) warnings.Add($"{path} ends in a cut-off line ({ignored} bytes), ignored");
        if (source.Rows.Count == 0) throw new DejaException($"report: {path}: no score rows (empty file)");
        return source;
    }

    /// <summary>Bare `deja detect`'s output folder: exactly one memorized.M.jsonl with its nonmemorized.M.jsonl.</summary>
    static (string Memorized, string NonMemorized)? BenchmarkPair(string folder)
    {
        var pairs = Directory.GetFiles(folder, "memorized.*.jsonl").Order(StringComparer.Ordinal)
            .Select(m => (Memorized: m, NonMemorized: Path.Combine(folder, "non" + Path.GetFileName(m))))
            .Where(p => File.Exists(p.NonMemorized)).ToList();
        if (pairs.Count > 1)
            throw new DejaException($"report: folder {folder} has scores of {pairs.Count} methods ({string.Join(", ", pairs.Select(p => Path.GetFileName(p.Memorized)))}); " +
                                    "pick one with --positives and --negatives");
        return pairs.Count == 1 ? pairs[0] : null;
    }
}
