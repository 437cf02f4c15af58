using Deja.Tensors;

namespace Deja.Memorization.Evaluation;

/// <summary>What a resumed detect run still has to score.</summary>
/// <param name="Done">Indices below the run's prompt count that already have their row.</param>
/// <param name="BeyondLimit">Rows for prompts of the file past --limit: valid, kept, not rescored.</param>
public sealed record ResumePlan(IReadOnlySet<int> Done, int BeyondLimit);

/// <summary>
/// Matches the rows already in a score file against the prompt list of the run that appends to it.
/// A row must be the row of its prompt (same index, same text) in the full prompt list; rows past
/// --limit are fine (an earlier run without the limit wrote them). Each prompt has one row: a file with
/// duplicated rows (two runs concatenated, a copy appended) would count those prompts twice in eval.
/// </summary>
public static class ScoresResume
{
    /// <param name="existing">(index, prompt) of the file's rows, in file order.</param>
    /// <param name="allPrompts">The whole prompt list, before --limit.</param>
    /// <param name="count">Prompts this run scores: the first <paramref name="count"/> of the list.</param>
    /// <param name="outPath">The score file, for messages.</param>
    /// <param name="promptSource">Where the prompts come from (a file, or the model), for messages.</param>
    public static ResumePlan Plan(IReadOnlyList<(int Index, string Prompt)> existing, IReadOnlyList<string> allPrompts, int count,
        string outPath, string promptSource)
    {
        var seen = new Dictionary<int, int>();
        foreach (var (index, prompt) in existing)
        {
            if (index < 0 || index >= allPrompts.Count)
                throw new DejaException($"{outPath} has a row for prompt {index} (\"{Shorten(prompt)}\"), but {promptSource} has {allPrompts.Count} prompts; " +
                    "the file was scored on another prompt list: use another --out");
            if (allPrompts[index] != prompt)
                throw new DejaException($"{outPath} has a row for prompt {index} (\"{Shorten(prompt)}\"), but prompt {index} of {promptSource} is " +
                    $"\"{Shorten(allPrompts[index])}\"; the file was scored on another prompt list: use another --out");
            seen[index] = seen.GetValueOrDefault(index) + 1;
        }
        var duplicated = seen.Where(s => s.Value > 1).OrderBy(s => s.Key).ToList();
        if (duplicated.Count > 0)
        {
            var (index, times) = (duplicated[0].Key, duplicated[0].Value);
            int extra = duplicated.Sum(d => d.Value - 1);
            throw new DejaException($"{outPath} has {existing.Count} rows but {seen.Count} prompts: {extra} duplicated row(s), e.g. prompt {index} " +
                $"(\"{Shorten(allPrompts[index])}\") {times} times; a score file holds one row per prompt, so remove the duplicates or use another --out");
        }
        var done = seen.Keys.Where(i => i < count).ToHashSet();
        return new ResumePlan(done, seen.Count - done.Count);
    }

    static string Shorten(string s) => ScoreEvaluation.Shorten(s);
}
