using System.Text;
using System.Text.Json;
using Deja.Diffusion.Text.Unicode;

namespace Deja.Diffusion.Text;

/// <summary>
/// Reads the four files of a diffusers <c>tokenizer/</c> folder the way transformers' slow
/// <c>CLIPTokenizer.from_pretrained</c> interprets them.
/// </summary>
internal sealed class ClipTokenizerFiles
{
    public const string VocabFile = "vocab.json";
    public const string MergesFile = "merges.txt";
    public const string SpecialTokensMapFile = "special_tokens_map.json";
    public const string ConfigFile = "tokenizer_config.json";

    // CLIPTokenizer keeps merges.txt lines 1 .. 49152-256-2 (the first line is the "#version" header).
    const int MaxMerges = 49152 - 256 - 2;
    // CLIP's context length, used when tokenizer_config.json gives no model_max_length or transformers'
    // "no limit" placeholder (1e30): CLIP text encoders have 77 positions.
    const int DefaultModelMaxLength = 77;
    const double NoLimitThreshold = 1e9;
    const int MaxModelMaxLength = 1 << 16;

    static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public required Dictionary<string, int> Vocabulary { get; init; }
    public required List<(string First, string Second)> Merges { get; init; }
    public required List<AddedToken> AddedTokens { get; init; }
    public required string BosToken { get; init; }
    public required string EosToken { get; init; }
    public required string UnkToken { get; init; }
    public required string PadToken { get; init; }
    public required int ModelMaxLength { get; init; }

    public static ClipTokenizerFiles Read(string folder)
    {
        if (!Directory.Exists(folder))
            throw new TokenizerFileException(folder, "tokenizer folder not found");
        var vocabulary = ReadVocabulary(Path.Combine(folder, VocabFile));
        var merges = ReadMerges(Path.Combine(folder, MergesFile));
        string mapPath = Path.Combine(folder, SpecialTokensMapFile), configPath = Path.Combine(folder, ConfigFile);
        using var map = ReadJsonObject(mapPath);
        using var config = ReadJsonObject(configPath);
        return Interpret(vocabulary, merges, map.RootElement, mapPath, config.RootElement, configPath);
    }

    static ClipTokenizerFiles Interpret(Dictionary<string, int> vocabulary, List<(string, string)> merges,
        JsonElement map, string mapPath, JsonElement config, string configPath)
    {
        var added = new List<AddedToken>();
        if (config.TryGetProperty("added_tokens_decoder", out var decoder))
        {
            if (decoder.ValueKind != JsonValueKind.Object)
                throw new TokenizerFileException(configPath, "\"added_tokens_decoder\" is not an object");
            foreach (var entry in decoder.EnumerateObject())
            {
                if (!int.TryParse(entry.Name, out int id) || id < 0)
                    throw new TokenizerFileException(configPath, $"added token id \"{entry.Name}\" is not a non-negative integer");
                var token = ReadTokenSpec(entry.Value, configPath, $"added token {id}")
                    ?? throw new TokenizerFileException(configPath, $"added token {id} has no content");
                added.Add(new AddedToken(token.Content, id, token.LeftStrip, token.RightStrip, token.Special));
            }
        }

        // special_tokens_map.json overrides tokenizer_config.json; CLIPTokenizer's defaults fill the rest.
        TokenSpec SpecialToken(string key, string fallback) =>
            (ReadTokenProperty(map, key, mapPath) ?? ReadTokenProperty(config, key, configPath) ?? new TokenSpec(fallback))
            with { Special = true };
        var bos = SpecialToken("bos_token", "<|startoftext|>");
        var eos = SpecialToken("eos_token", "<|endoftext|>");
        var unk = SpecialToken("unk_token", "<|endoftext|>");
        var pad = SpecialToken("pad_token", "<|endoftext|>");
        var specials = new List<TokenSpec> { bos, eos, unk, pad };
        foreach (var (source, path) in new[] { (map, mapPath), (config, configPath) })
            if (source.TryGetProperty("additional_special_tokens", out var extra) && extra.ValueKind == JsonValueKind.Array)
                foreach (var item in extra.EnumerateArray())
                    if (ReadTokenSpec(item, path, "additional special token") is { } t)
                        specials.Add(t with { Special = true });

        // Special tokens that are not yet added tokens become added tokens too, with their vocabulary id
        // when they have one and a new id after the vocabulary otherwise (transformers' _add_tokens).
        int nextId = Math.Max(vocabulary.Count, added.Count == 0 ? 0 : added.Max(a => a.Id) + 1);
        foreach (var s in specials)
        {
            if (added.Any(a => a.Content == s.Content)) continue;
            int id = vocabulary.TryGetValue(s.Content, out int v) ? v : nextId++;
            added.Add(new AddedToken(s.Content, id, s.LeftStrip, s.RightStrip, s.Special));
        }

        int maxLength = DefaultModelMaxLength;
        if (config.TryGetProperty("model_max_length", out var m) && m.ValueKind == JsonValueKind.Number)
        {
            double value = m.GetDouble();
            if (value < 2) throw new TokenizerFileException(configPath, $"model_max_length {value} is below 2");
            // Every padded encoding allocates this many ids: a length between a text encoder's size and
            // transformers' "no limit" placeholder is damage, not a setting.
            if (value > MaxModelMaxLength && value < NoLimitThreshold)
                throw new TokenizerFileException(configPath, $"model_max_length {value} is implausible (CLIP tokenizers use 77; at most {MaxModelMaxLength} is accepted)");
            if (value < NoLimitThreshold) maxLength = (int)value;
        }

        return new ClipTokenizerFiles
        {
            Vocabulary = vocabulary,
            Merges = merges,
            AddedTokens = added,
            BosToken = bos.Content,
            EosToken = eos.Content,
            UnkToken = unk.Content,
            PadToken = pad.Content,
            ModelMaxLength = maxLength,
        };
    }

    // single_word is not read: no CLIP tokenizer sets it.
    readonly record struct TokenSpec(string Content, bool LeftStrip = false, bool RightStrip = false, bool Special = true);

    static TokenSpec? ReadTokenProperty(JsonElement owner, string key, string path) =>
        owner.TryGetProperty(key, out var value) ? ReadTokenSpec(value, path, $"\"{key}\"") : null;

    // A token is written either as a plain string or as an object {"content", "lstrip", "rstrip", "special", ...}.
    static TokenSpec? ReadTokenSpec(JsonElement value, string path, string what)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Null:
                return null;
            case JsonValueKind.String:
                return new TokenSpec(value.GetString()!);
            case JsonValueKind.Object when value.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String:
                return new TokenSpec(content.GetString()!, Flag(value, "lstrip"), Flag(value, "rstrip"),
                    !value.TryGetProperty("special", out var sp) || sp.ValueKind != JsonValueKind.False);
            default:
                throw new TokenizerFileException(path, $"{what} is neither a string nor an object with a \"content\" string");
        }

        static bool Flag(JsonElement o, string name) => o.TryGetProperty(name, out var f) && f.ValueKind == JsonValueKind.True;
    }

    static byte[] ReadBytes(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new TokenizerFileException(path, "not found", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TokenizerFileException(path, "cannot be read: " + e.Message, e);
        }
    }

    static JsonDocument ReadJsonObject(string path)
    {
        JsonDocument doc;
        var bytes = ReadBytes(path);
        // JsonDocument accepts invalid UTF-8 inside strings and only fails when a string is read, with
        // an InvalidOperationException (found by fuzzing): check the whole file first.
        if (!System.Text.Unicode.Utf8.IsValid(bytes))
            throw new TokenizerFileException(path, "is not valid UTF-8");
        try
        {
            doc = JsonDocument.Parse(bytes);
        }
        catch (JsonException e)
        {
            throw new TokenizerFileException(path, "is not valid JSON: " + e.Message, e);
        }
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            doc.Dispose();
            throw new TokenizerFileException(path, "is not a JSON object");
        }
        return doc;
    }

    static Dictionary<string, int> ReadVocabulary(string path)
    {
        byte[] bytes = ReadBytes(path);
        var vocabulary = new Dictionary<string, int>(50_000, StringComparer.Ordinal);
        try
        {
            var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                throw new TokenizerFileException(path, "is not a JSON object of token → id");
            while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
            {
                string token = reader.GetString()!;
                reader.Read();
                if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out int id) || id < 0)
                    throw new TokenizerFileException(path, $"the id of token \"{token}\" is not a non-negative integer");
                vocabulary[token] = id;
            }
            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
                throw new TokenizerFileException(path, "has content after the token object");
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new TokenizerFileException(path, "is not valid JSON: " + e.Message, e);
        }
        if (vocabulary.Count == 0) throw new TokenizerFileException(path, "is empty");
        return vocabulary;
    }

    static List<(string, string)> ReadMerges(string path)
    {
        string text;
        try
        {
            text = StrictUtf8.GetString(ReadBytes(path));
        }
        catch (DecoderFallbackException e)
        {
            throw new TokenizerFileException(path, "is not valid UTF-8", e);
        }
        // The reference reads the file in text mode (universal newlines), strips it and splits on '\n'.
        string[] lines = PythonText.Strip(text.Replace("\r\n", "\n").Replace('\r', '\n')).Split('\n');
        if (lines.Length < 2) throw new TokenizerFileException(path, "has no merge rules");
        int count = Math.Min(lines.Length - 1, MaxMerges);
        var merges = new List<(string, string)>(count);
        for (int i = 1; i <= count; i++)
        {
            string[] parts = lines[i].Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 2)
                throw new TokenizerFileException(path, $"line {i + 1} is not a merge rule of two symbols: \"{lines[i]}\"");
            merges.Add((parts[0], parts[1]));
        }
        return merges;
    }
}
