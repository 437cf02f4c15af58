namespace Deja.Memorization.Evaluation;

/// <summary>
/// Labelled scores grouped by distinct score value, highest first: the part of scikit-learn's
/// <c>_binary_clf_curve</c> that depends only on the scores. Sorting happens once; a bootstrap resample
/// is then a new per-group count of positives and negatives, so each resample costs O(n), not O(n log n).
/// </summary>
internal sealed class RankedScores
{
    /// <summary>Distinct score values, descending.</summary>
    public double[] Values { get; }

    /// <summary>For each input sample, the index of its value in <see cref="Values"/>.</summary>
    public int[] GroupOf { get; }

    /// <summary>Positives and negatives per distinct value, for the labels given.</summary>
    public int[] PositivesPerGroup { get; }
    public int[] NegativesPerGroup { get; }

    public int Positives { get; }
    public int Negatives { get; }

    public RankedScores(ReadOnlySpan<bool> labels, ReadOnlySpan<double> scores)
    {
        Validate(labels, scores);
        int n = scores.Length;

        // numpy argsort(kind="mergesort")[::-1]: a stable ascending sort, reversed, so equal scores come
        // out in DESCENDING original index. Ties are then merged into one threshold (only the last index
        // of a run of equal scores is a threshold index), so the order inside a tie cannot change the
        // curve; we keep numpy's order anyway so the sample order below is exactly sklearn's.
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        var keys = scores.ToArray();
        Array.Sort(order, (a, b) =>
        {
            int c = keys[b].CompareTo(keys[a]);   // descending score
            return c != 0 ? c : b.CompareTo(a);   // ties: later index first (reversed stable order)
        });

        var values = new List<double>();
        GroupOf = new int[n];
        var pos = new List<int>();
        var neg = new List<int>();
        for (int r = 0; r < n; r++)
        {
            int i = order[r];
            // np.diff(y_score) != 0 starts a new group; -0.0 and 0.0 compare equal, as in numpy.
            if (values.Count == 0 || keys[i] != values[^1]) { values.Add(keys[i]); pos.Add(0); neg.Add(0); }
            int g = values.Count - 1;
            GroupOf[i] = g;
            if (labels[i]) pos[g]++; else neg[g]++;
        }
        Values = [.. values];
        PositivesPerGroup = [.. pos];
        NegativesPerGroup = [.. neg];
        foreach (var p in PositivesPerGroup) Positives += p;
        Negatives = n - Positives;
    }

    internal static void Validate(ReadOnlySpan<bool> labels, ReadOnlySpan<double> scores)
    {
        if (labels.Length != scores.Length)
            throw new ArgumentException($"ROC: {labels.Length} labels but {scores.Length} scores");
        if (scores.Length == 0)
            throw new ArgumentException("ROC: no samples");
        int positives = 0;
        for (int i = 0; i < scores.Length; i++)
        {
            // sklearn rejects non-finite scores (assert_all_finite); +inf would also break "distinct value"
            // detection (inf - inf is NaN).
            if (!double.IsFinite(scores[i]))
                throw new ArgumentException($"ROC: score {i} is {scores[i]}; scores must be finite numbers");
            if (labels[i]) positives++;
        }
        // sklearn only warns here and returns NaN rates; a NaN AUC in a report is worse than a refusal.
        if (positives == 0)
            throw new ArgumentException($"ROC: no positive (memorized) samples among {scores.Length}; the true positive rate is undefined");
        if (positives == scores.Length)
            throw new ArgumentException($"ROC: no negative (non-memorized) samples among {scores.Length}; the false positive rate is undefined");
    }
}
