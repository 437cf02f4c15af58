using Deja.Tensors;

namespace Deja.Memorization.Localization;

/// <summary>
/// Randomness over prompts, the unit the pixels of a localization set are not independent of: bootstrap
/// resamples and the held-out threshold split. Both are stratified by the prompt's kind of ground truth
/// (template / whole image / non-memorized), so the "ALL (unbalanced)" mix stays what it is in every
/// resample and in both halves, as <see cref="Evaluation.DetectionEvaluator"/> keeps its classes.
/// </summary>
internal static class PromptResampling
{
    /// <summary>
    /// <paramref name="count"/> stratified bootstrap resamples of the included prompts, each as a
    /// multiplicity per prompt (excluded prompts 0). Each resample has its own generator, forked in order
    /// from the seed, so the draws do not depend on the thread count or on the map evaluated.
    /// </summary>
    public static int[][] Bootstrap(int[] stratumOfPrompt, bool[]? include, int count, ulong seed)
    {
        var strata = Strata(stratumOfPrompt, include);
        var root = new Generator(seed);
        var resamples = new int[count][];
        for (int b = 0; b < count; b++)
        {
            var g = root.Fork();
            var w = new int[stratumOfPrompt.Length];
            foreach (var members in strata)
                for (int i = 0; i < members.Count; i++) w[members[g.NextInt(members.Count)]]++;
            resamples[b] = w;
        }
        return resamples;
    }

    /// <summary>
    /// A seeded 50 % split of the prompts (true = half A, where thresholds are chosen; false = half B,
    /// where they are scored). Each stratum is shuffled (Fisher–Yates) and halved; an odd stratum's extra
    /// prompt goes to A and B in turn, so the halves differ by at most one prompt.
    /// </summary>
    public static bool[] Split(int[] stratumOfPrompt, ulong seed)
    {
        var g = new Generator(seed);
        var inA = new bool[stratumOfPrompt.Length];
        bool extraToA = true;
        foreach (var members in Strata(stratumOfPrompt, null))
        {
            var order = members.ToArray();
            for (int i = order.Length - 1; i > 0; i--)
            {
                int j = g.NextInt(i + 1);
                (order[i], order[j]) = (order[j], order[i]);
            }
            int half = order.Length / 2;
            if (order.Length % 2 == 1) { if (extraToA) half++; extraToA = !extraToA; }
            for (int i = 0; i < half; i++) inA[order[i]] = true;
        }
        return inA;
    }

    /// <summary>The prompts of each stratum, strata in id order, prompts in index order.</summary>
    static List<List<int>> Strata(int[] stratumOfPrompt, bool[]? include)
    {
        var byStratum = new SortedDictionary<int, List<int>>();
        for (int p = 0; p < stratumOfPrompt.Length; p++)
        {
            if (include is not null && !include[p]) continue;
            if (!byStratum.TryGetValue(stratumOfPrompt[p], out var list)) byStratum[stratumOfPrompt[p]] = list = [];
            list.Add(p);
        }
        return [.. byStratum.Values];
    }
}
