using Deja.Tensors;
namespace Deja.Memorization.Evaluation;

public sealed record ScoreEvaluationSettings
{
    /// <summary>Columns to evaluate; null = every column present in all rows.</summary>
    public IReadOnlyList<string>? Columns { get; init; }

    /// <summary>Round every score to bfloat16 first, for parity with J and A (METHODS.md §0.6).</summary>
    public bool BFloat16 { get; init; }

    public EvaluationOptions Options { get; init; } = new();
}

public sealed record ColumnEvaluation(string Column, DetectionEvaluation Result);

public sealed record ScoreEvaluationReport(
    ScoreEvaluationSettings Settings,
    IReadOnlyList<ColumnEvaluation> Columns,
    IReadOnlyList<(string Column, string Reason)> Skipped,
    IReadOnlyList<string> Warnings);

/// <summary>
/// The core of <c>deja eval</c>: memorized (positive) and non-memorized (negative) score rows in, one
/// evaluation per score column out. Kept here, free of console and files, so it can be tested.
/// </summary>
public static class ScoreEvaluation
{
    public static ScoreEvaluationReport Evaluate(IReadOnlyList<ScoreRow> positives, IReadOnlyList<ScoreRow> negatives, ScoreEvaluationSettings? settings = null)
    {
        settings ??= new ScoreEvaluationSettings();
        if (positives.Count == 0) throw new DejaException("eval: no memorized (positive) rows");
        if (negatives.Count == 0) throw new DejaException("eval: no non-memorized (negative) rows");
        var all = positives.Concat(negatives).ToList();
        var (columns, skipped) = ChooseColumns(all, settings.Columns);
        var warnings = DuplicateWarnings(positives, negatives);

        var labels = new bool[all.Count];
        for (int i = 0; i < positives.Count; i++) labels[i] = true;
        var results = new List<ColumnEvaluation>();
        foreach (var column in columns)
        {
            var scores = new double[all.Count];
            for (int i = 0; i < all.Count; i++)
            {
                double v = all[i].Scores[column];
                if (!double.IsFinite(v)) throw NotFinite(column, all, labels);
                scores[i] = settings.BFloat16 ? BFloat16.Round(v) : v;
            }
            results.Add(new ColumnEvaluation(column, DetectionEvaluator.Evaluate(labels, scores, settings.Options)));
        }
        return new ScoreEvaluationReport(settings, results, skipped, warnings);
    }

    /// <summary>Columns present in every row, in the order they first appear; the rest are skipped with a reason.</summary>
    static (List<string> Columns, List<(string, string)> Skipped) ChooseColumns(List<ScoreRow> rows, IReadOnlyList<string>? requested)
    {
        var order = new List<string>();
        var count = new Dictionary<string, int>();
        foreach (var row in rows)
            foreach (var name in row.Scores.Keys)
            {
                if (!count.TryGetValue(name, out int c)) order.Add(name);
                count[name] = c + 1;
            }
        var common = order.Where(n => count[n] == rows.Count).ToList();
        var skipped = new List<(string, string)>();
        if (requested is not null)
        {
            foreach (var name in requested)
                if (!common.Contains(name))
                    throw new DejaException(count.TryGetValue(name, out int c)
                        ? $"eval: column \"{name}\" is missing in {rows.Count - c} of {rows.Count} rows"
                        : $"eval: no column \"{name}\"; the score files have: {string.Join(", ", order)}");
            foreach (var name in common.Where(n => !requested.Contains(n)))
                skipped.Add((name, "not in --columns"));
            return ([.. requested.Distinct()], skipped);
        }
        foreach (var name in order.Where(n => count[n] < rows.Count))
            skipped.Add((name, $"missing in {rows.Count - count[name]} of {rows.Count} rows"));
        if (common.Count == 0)
            throw new DejaException(order.Count == 0
                ? "eval: the rows have no scores"
                : $"eval: no score column is present in every row ({string.Join("; ", skipped.Select(s => $"{s.Item1}: {s.Item2}"))})");
        return (common, skipped);
    }

    static DejaException NotFinite(string column, List<ScoreRow> rows, bool[] labels)
    {
        var bad = Enumerable.Range(0, rows.Count).Where(i => !double.IsFinite(rows[i].Scores[column])).ToList();
        var first = rows[bad[0]];
        return new DejaException(
            $"eval: column \"{column}\" has {bad.Count} non-finite value(s) (first: {(labels[bad[0]] ? "memorized" : "non-memorized")} " +
            $"row index {first.Index}, \"{Shorten(first.Prompt)}\" = {first.Scores[column]}); leave it out with --columns");
    }

    /// <summary>The same prompt twice inflates its weight; the same prompt in both classes makes the
    /// task ill-posed. Both are worth a warning, neither is an error (a duplicated prompt can be deliberate).</summary>
    static List<string> DuplicateWarnings(IReadOnlyList<ScoreRow> positives, IReadOnlyList<ScoreRow> negatives)
    {
        var warnings = new List<string>();
        foreach (var (rows, what) in new[] { (positives, "memorized"), (negatives, "non-memorized") })
        {
            var dups = rows.GroupBy(r => r.Prompt).Where(g => g.Count() > 1).ToList();
            if (dups.Count > 0)
                warnings.Add($"{dups.Count} prompt(s) appear more than once among the {what} rows, e.g. \"{Shorten(dups[0].Key)}\" ×{dups[0].Count()}");
        }
        var both = positives.Select(r => r.Prompt).Intersect(negatives.Select(r => r.Prompt)).ToList();
        if (both.Count > 0)
            warnings.Add($"{both.Count} prompt(s) are both memorized and non-memorized, e.g. \"{Shorten(both[0])}\"");
        return warnings;
    }

    internal static string Shorten(string s) => s.Length <= 60 ? s : s[..57] + "...";
}
