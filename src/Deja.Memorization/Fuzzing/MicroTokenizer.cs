using System.Text;
using System.Text.Json;

namespace Deja.Memorization.Fuzzing;

/// <summary>
/// A small but real CLIP tokenizer folder: the 512 byte-level symbols, merges learned from a word list
/// (so BPE has work to do) and the special tokens. Its vocabulary is a few hundred entries instead of
/// 49 408, so a fuzzer can load it tens of thousands of times.
/// </summary>
internal static class MicroTokenizer
{
    static readonly string[] Words =
    [
        "a", "photo", "of", "the", "cat", "dog", "on", "beach", "painting", "portrait", "astronaut", "riding", "horse", "city",
        "night", "red", "blue", "green", "mountain", "river", "forest", "by", "artist", "style", "oil", "canvas", "sunset",
    ];

    /// <summary>Writes vocab.json, merges.txt, tokenizer_config.json and special_tokens_map.json; returns their bytes by name.</summary>
    public static Dictionary<string, byte[]> Write(string folder)
    {
        Directory.CreateDirectory(folder);
        var vocab = new List<string>();
        vocab.AddRange(ByteSymbols());
        vocab.AddRange(ByteSymbols().Select(s => s + "</w>"));
        var merges = new List<string>();
        var known = new HashSet<string>(vocab);
        foreach (var word in Words)
        {
            // Merge left to right: (p, h) → ph, (ph, o) → pho, …, the last symbol carrying </w>.
            var symbols = word.Select((c, i) => i == word.Length - 1 ? c + "</w>" : c.ToString()).ToList();
            string current = symbols[0];
            foreach (var next in symbols.Skip(1))
            {
                var merged = current + next;
                if (known.Add(merged)) { merges.Add($"{current} {next}"); vocab.Add(merged); }
                current = merged;
            }
        }
        vocab.Add("<|startoftext|>");
        vocab.Add("<|endoftext|>");
        var files = new Dictionary<string, byte[]>
        {
            ["vocab.json"] = JsonSerializer.SerializeToUtf8Bytes(vocab.Select((t, i) => (t, i)).ToDictionary(p => p.t, p => p.i)),
            ["merges.txt"] = Encoding.UTF8.GetBytes("#version: 0.2\n" + string.Join("\n", merges) + "\n"),
            ["tokenizer_config.json"] = Encoding.UTF8.GetBytes(
                """{"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>", "pad_token": "<|endoftext|>", "model_max_length": 77, """ +
                $$"""
                "added_tokens_decoder": {"{{vocab.Count - 2}}": {"content": "<|startoftext|>", "special": true}, "{{vocab.Count - 1}}": {"content": "<|endoftext|>", "special": true} } }
                """),
            ["special_tokens_map.json"] = Encoding.UTF8.GetBytes(
                """{"bos_token": {"content": "<|startoftext|>", "lstrip": false, "rstrip": false}, "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>", "pad_token": "<|endoftext|>"}"""),
        };
        foreach (var (name, bytes) in files) File.WriteAllBytes(Path.Combine(folder, name), bytes);
        return files;
    }

    /// <summary>Vocabulary size: what the micro text encoder's vocab_size must cover.</summary>
    public static int VocabularySize(string folder) => JsonDocument.Parse(File.ReadAllBytes(Path.Combine(folder, "vocab.json"))).RootElement.EnumerateObject().Count();

    /// <summary>GPT-2's byte-to-unicode table: printable Latin-1 bytes stand for themselves, the rest map above U+0100.</summary>
    static IEnumerable<string> ByteSymbols()
    {
        int extra = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            yield return ((char)(printable ? b : 256 + extra++)).ToString();
        }
    }
}
