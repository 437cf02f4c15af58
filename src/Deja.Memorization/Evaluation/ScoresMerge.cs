using System.Text.Json.Nodes;
using Deja.Tensors;

namespace Deja.Memorization.Evaluation;

/// <summary>What merging the shard files of one run found.</summary>
/// <param name="Rows">One row per prompt index, in index order.</param>
/// <param name="Missing">Indices without a row: gaps below the largest index, and, when the prompt list is known, those after it.</param>
/// <param name="Duplicated">Indices whose row appeared more than once with the same content (kept once).</param>
/// <param name="Expected">The number of prompts of the run when the prompt list was given, else null.</param>
public sealed record MergeResult(IReadOnlyList<ScoreRow> Rows, IReadOnlyList<int> Missing, IReadOnlyList<int> Duplicated, int? Expected)
{
    /// <summary>The merged file's bytes: the rows in index order, each line as <c>deja detect</c> writes it.</summary>
    public byte[] Serialize() => ScoresFile.Serialize(Rows);
}

/// <summary>
/// Joins the score files of a sharded <c>deja detect</c> run (<c>--shard i/n</c>) into one file in
/// prompt-index order. The parts must be one run: same model, method, parameters and calibration (a
/// shard scored with other options would make the merged file a mix that no single run produced).
/// A prompt scored twice is harmless when both rows are the same (the same shard file given twice, or
/// shards of two splittings of one run) and is kept once; two different rows for one index are a
/// conflict. Since each shard's batches are batches of the unsharded run, the merged file equals the
/// unsharded run's file byte for byte.
/// </summary>
public static class ScoresMerge
{
    /// <param name="parts">The shard files, read.</param>
    /// <param name="prompts">The whole prompt list of the run, when known: every row must be its prompt's
    /// row, and indices past the last row count as missing.</param>
    /// <param name="promptSource">Where <paramref name="prompts"/> came from, for messages.</param>
    public static MergeResult Merge(IReadOnlyList<ScoreSource> parts, IReadOnlyList<string>? prompts = null, string? promptSource = null)
    {
        if (parts.Count == 0) throw new DejaException("merge: no score files given");
        if (ScoreInputCheck.MixedParts(parts) is { } mixed)
            throw new DejaException($"merge: {mixed}; the files are not shards of one run");
        CheckOneFlagging(parts);

        var byIndex = new SortedDictionary<int, (ScoreRow Row, string Line, string Path)>();
        var duplicated = new SortedSet<int>();
        foreach (var part in parts)
            foreach (var row in part.Rows)
            {
                if (prompts is not null && (row.Index < 0 || row.Index >= prompts.Count || prompts[row.Index] != row.Prompt))
                    throw new DejaException($"merge: {part.Path} has a row for prompt {row.Index} (\"{ScoreEvaluation.Shorten(row.Prompt)}\"), but " +
                        (row.Index < 0 || row.Index >= prompts.Count ? $"{promptSource} has {prompts.Count} prompts"
                            : $"prompt {row.Index} of {promptSource} is \"{ScoreEvaluation.Shorten(prompts[row.Index])}\"") +
                        "; the file was scored on another prompt list");
                if (row.Index < 0) throw new DejaException($"merge: {part.Path} has a row with the negative index {row.Index}");
                // Rows are compared as the lines the merge would write: equal lines are the same result.
                string line = ScoresFile.ToLine(row);
                if (byIndex.TryGetValue(row.Index, out var seen))
                {
                    if (seen.Line != line)
                        throw new DejaException($"merge: prompt {row.Index} has two different rows, in {seen.Path} (\"{ScoreEvaluation.Shorten(seen.Row.Prompt)}\", " +
                            $"{Scores(seen.Row)}) and in {part.Path} (\"{ScoreEvaluation.Shorten(row.Prompt)}\", {Scores(row)}); " +
                            "the files come from different runs or prompt lists: merge only the shards of one run");
                    duplicated.Add(row.Index);
                    continue;
                }
                byIndex[row.Index] = (row, line, part.Path);
            }

        int end = prompts?.Count ?? (byIndex.Count == 0 ? 0 : byIndex.Keys.Last() + 1);
        var missing = Enumerable.Range(0, end).Where(i => !byIndex.ContainsKey(i)).ToList();
        return new MergeResult([.. byIndex.Values.Select(v => v.Row)], missing, [.. duplicated], prompts?.Count);
    }

    /// <summary>
    /// Indices as short runs for messages: "3, 7 … 12, 20" (at most <paramref name="max"/> runs, then "and N more").
    /// </summary>
    public static string Ranges(IReadOnlyList<int> indices, int max = 8)
    {
        var runs = new List<(int From, int To)>();
        foreach (int i in indices)
            if (runs.Count > 0 && runs[^1].To == i - 1) runs[^1] = (runs[^1].From, i);
            else runs.Add((i, i));
        var shown = runs.Take(max).Select(r => r.From == r.To ? $"{r.From}" : $"{r.From} … {r.To}");
        return string.Join(", ", shown) + (runs.Count > max ? $" and {runs.Skip(max).Sum(r => r.To - r.From + 1)} more" : "");
    }

    static string Scores(ScoreRow row) => string.Join(", ", row.Scores.Select(s => $"{s.Key} {s.Value:R}"));

    /// <summary>Shards flagged with a calibration must all use the same threshold (or none): the rows' "threshold" and "threshold_column".</summary>
    static void CheckOneFlagging(IReadOnlyList<ScoreSource> parts)
    {
        (string Path, ScoreRow Row, string Flagging)? first = null;
        foreach (var part in parts)
            foreach (var row in part.Rows)
            {
                var extra = JsonNode.Parse(row.ExtraJson) as JsonObject;
                string flagging = extra is not null && extra.ContainsKey("flagged")
                    ? $"{extra["threshold_column"]?.ToJsonString() ?? "?"} > {extra["threshold"]?.ToJsonString() ?? "?"}" : "not flagged";
                first ??= (part.Path, row, flagging);
                if (flagging != first.Value.Flagging)
                    throw new DejaException($"merge: {first.Value.Path} (prompt {first.Value.Row.Index}: {first.Value.Flagging}) and {part.Path} " +
                        $"(prompt {row.Index}: {flagging}) were flagged differently; run every shard with the same --calibration");
            }
    }
}
