using System.Collections.Concurrent;

namespace Deja.Diffusion.Text;

/// <summary>
/// CLIP's byte-pair encoding of one pre-tokenized word: the word's last symbol carries the end-of-word
/// marker <c>&lt;/w&gt;</c>, then the adjacent pair with the lowest merge rank is merged everywhere
/// (left to right, non-overlapping) until no ranked pair is left. Results are cached per word.
/// </summary>
internal sealed class BytePairEncoder
{
    public const string EndOfWord = "</w>";
    const int MaxCacheEntries = 200_000;

    readonly Dictionary<(string First, string Second), int> ranks;
    readonly ConcurrentDictionary<string, string[]> cache = new(StringComparer.Ordinal);
    readonly HashSet<string> unsplit;

    /// <param name="merges">Merge rules in priority order.</param>
    /// <param name="unsplitWords">Words returned as one symbol without the end-of-word marker (CLIP: its two special tokens).</param>
    public BytePairEncoder(IReadOnlyList<(string First, string Second)> merges, IEnumerable<string> unsplitWords)
    {
        ranks = new Dictionary<(string, string), int>(merges.Count);
        for (int i = 0; i < merges.Count; i++) ranks[merges[i]] = i; // a repeated rule keeps its last rank, as the reference's dict does
        unsplit = new HashSet<string>(unsplitWords, StringComparer.Ordinal);
    }

    public int MergeCount => ranks.Count;

    /// <summary>The BPE symbols of <paramref name="word"/> (a string over <see cref="ByteLevelAlphabet"/>).</summary>
    public string[] Encode(string word)
    {
        if (word.Length == 0) return [];
        if (cache.TryGetValue(word, out var cached)) return cached;
        string[] symbols = unsplit.Contains(word) ? [word] : Merge(word);
        if (cache.Count >= MaxCacheEntries) cache.Clear();
        cache[word] = symbols;
        return symbols;
    }

    string[] Merge(string word)
    {
        var symbols = new List<string>(word.Length);
        for (int i = 0; i < word.Length - 1; i++) symbols.Add(word[i].ToString());
        symbols.Add(word[^1] + EndOfWord);
        var merged = new List<string>(symbols.Count);
        while (symbols.Count > 1)
        {
            int best = int.MaxValue;
            (string, string) bestPair = default;
            for (int i = 0; i + 1 < symbols.Count; i++)
                if (ranks.TryGetValue((symbols[i], symbols[i + 1]), out int rank) && rank < best)
                {
                    best = rank;
                    bestPair = (symbols[i], symbols[i + 1]);
                }
            if (best == int.MaxValue) break;
            merged.Clear();
            for (int i = 0; i < symbols.Count; i++)
            {
                if (i + 1 < symbols.Count && symbols[i] == bestPair.Item1 && symbols[i + 1] == bestPair.Item2)
                {
                    merged.Add(bestPair.Item1 + bestPair.Item2);
                    i++;
                }
                else merged.Add(symbols[i]);
            }
            (symbols, merged) = (merged, symbols);
        }
        return [.. symbols];
    }
}
