using Deja.Tensors;

namespace Deja.Diffusion.Text;

/// <summary>The three kinds of Wen et al.'s random-token baseline (`prompt_augmentation`).</summary>
public enum RandomTokenKind
{
    /// <summary>rand_word_add: a token drawn uniformly from ids [0, 49400), decoded to text.</summary>
    WordAdd,
    /// <summary>rand_numb_add: an integer drawn uniformly from [0, 100000).</summary>
    NumberAdd,
    /// <summary>rand_word_repeat: a word of the prompt itself.</summary>
    WordRepeat,
}

/// <summary>
/// Wen et al.'s baseline mitigation, METHODS.md §1.3: perturb the prompt text by inserting
/// <see cref="Repeat"/> random words, each at a position drawn uniformly from [0, #words] (inclusive)
/// of the space-split prompt as it stands after the previous insertions. W's README runs rand_word_add
/// with 4 insertions at inference (1 for the training baseline). Every draw comes from the generator
/// the caller seeds (Deja seeds it per prompt), so a run is reproducible. The same code perturbs the
/// training captions of `deja train --augment-random-tokens` (W's training baseline), which is why it
/// lives beside the tokenizer rather than with the inference-time mitigations.
/// </summary>
public sealed class RandomTokenAugmentation
{
    /// <summary>Token ids drawn by rand_word_add: [0, 49400), as W's code (below the special tokens).</summary>
    public const int WordIdRange = 49400;
    public const int NumberRange = 100000;

    public RandomTokenKind Kind { get; init; } = RandomTokenKind.WordAdd;
    public int Repeat { get; init; } = 4;

    public static RandomTokenKind ParseKind(string text) => text.Trim().ToLowerInvariant() switch
    {
        "rand_word_add" or "word" => RandomTokenKind.WordAdd,
        "rand_numb_add" or "number" => RandomTokenKind.NumberAdd,
        "rand_word_repeat" or "repeat" => RandomTokenKind.WordRepeat,
        _ => throw new DejaException($"unknown random-token kind '{text}' (use rand_word_add, rand_numb_add or rand_word_repeat)"),
    };

    public static string KindName(RandomTokenKind kind) => kind switch
    {
        RandomTokenKind.WordAdd => "rand_word_add",
        RandomTokenKind.NumberAdd => "rand_numb_add",
        _ => "rand_word_repeat",
    };

    public void Validate()
    {
        if (Repeat < 0) throw new DejaException($"random tokens: --repeat must be at least 0, got {Repeat}");
    }

    /// <summary>The prompt with <see cref="Repeat"/> insertions; <paramref name="tokenizer"/> decodes rand_word_add's ids.</summary>
    public string Apply(string prompt, Generator g, ClipTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(prompt); ArgumentNullException.ThrowIfNull(g); ArgumentNullException.ThrowIfNull(tokenizer);
        Validate();
        var words = prompt.Split(' ').ToList(); // Python's str.split(' '): empty strings between repeated spaces stay
        var original = words.ToArray();
        for (int r = 0; r < Repeat; r++)
        {
            string word = Kind switch
            {
                RandomTokenKind.WordAdd => tokenizer.Decode([g.NextInt(WordIdRange)]).Trim(),
                RandomTokenKind.NumberAdd => g.NextInt(NumberRange).ToString(System.Globalization.CultureInfo.InvariantCulture),
                _ => original[g.NextInt(original.Length)],
            };
            words.Insert(g.NextInt(words.Count + 1), word);
        }
        return string.Join(' ', words);
    }
}
