using System.Text;
using Deja.Diffusion.Text.Ftfy;
using Deja.Diffusion.Text.Unicode;

namespace Deja.Diffusion.Text;

/// <summary>
/// The CLIP BPE tokenizer as Stable Diffusion pipelines use it: transformers' slow <c>CLIPTokenizer</c>
/// with ftfy installed. Steps: split the raw text on added tokens (special tokens; SD2 tokenizers also
/// add their pad token "!"), then each other chunk goes through ftfy (see <see cref="TextFixer"/>),
/// whitespace collapsing, lowercasing, CLIP's word pattern, the byte-level alphabet and BPE.
/// Thread-safe; load once and share.
/// </summary>
public sealed class ClipTokenizer
{
    readonly Dictionary<string, int> vocabulary;
    readonly Dictionary<string, AddedToken> addedByContent;
    readonly Dictionary<int, string> tokenById;
    readonly HashSet<int> specialIds;
    readonly AddedTokenSplitter splitter;
    readonly BytePairEncoder bpe;

    ClipTokenizer(ClipTokenizerFiles files)
    {
        vocabulary = files.Vocabulary;
        AddedTokens = files.AddedTokens;
        addedByContent = new Dictionary<string, AddedToken>(StringComparer.Ordinal);
        foreach (var t in AddedTokens) addedByContent[t.Content] = t; // a repeated content keeps its last id
        specialIds = [.. AddedTokens.Where(t => t.Special).Select(t => t.Id)];
        tokenById = new Dictionary<int, string>(vocabulary.Count + AddedTokens.Count);
        foreach (var (token, id) in vocabulary) tokenById[id] = token;
        foreach (var t in AddedTokens) tokenById[t.Id] = t.Content;
        splitter = new AddedTokenSplitter(AddedTokens);
        bpe = new BytePairEncoder(files.Merges, ["<|startoftext|>", "<|endoftext|>"]);
        BosToken = files.BosToken;
        EosToken = files.EosToken;
        PadToken = files.PadToken;
        BosId = addedByContent[files.BosToken].Id;
        EosId = addedByContent[files.EosToken].Id;
        UnkId = addedByContent[files.UnkToken].Id;
        PadId = addedByContent[files.PadToken].Id;
        ModelMaxLength = files.ModelMaxLength;
    }

    /// <summary>
    /// Loads a diffusers <c>tokenizer/</c> folder (vocab.json, merges.txt, special_tokens_map.json,
    /// tokenizer_config.json). A missing or unreadable file throws <see cref="TokenizerFileException"/> naming it.
    /// </summary>
    public static ClipTokenizer Load(string tokenizerFolder) => new(ClipTokenizerFiles.Read(tokenizerFolder));

    public string BosToken { get; }
    public string EosToken { get; }
    public string PadToken { get; }
    public int BosId { get; }
    public int EosId { get; }
    public int UnkId { get; }
    /// <summary>Id used for padding: 49407 (&lt;|endoftext|&gt;) for SD1 tokenizers, 0 ("!") for SD2.</summary>
    public int PadId { get; }
    /// <summary>The text encoder's context length (77 for Stable Diffusion).</summary>
    public int ModelMaxLength { get; }
    /// <summary>Number of distinct ids (vocabulary plus added tokens with new ids).</summary>
    public int VocabularySize => tokenById.Count;
    public IReadOnlyList<AddedToken> AddedTokens { get; }

    /// <summary>The token strings of <paramref name="text"/> without BOS/EOS: BPE symbols over the
    /// byte-level alphabet (words end in "&lt;/w&gt;") and added tokens as they are.</summary>
    public IReadOnlyList<string> Tokenize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var tokens = new List<string>();
        foreach (var (chunk, isAdded) in splitter.Split(text))
        {
            if (isAdded)
            {
                tokens.Add(chunk);
                continue;
            }
            string normalized = PythonText.Lower(CollapseWhitespace(TextFixer.FixText(chunk)));
            foreach (string word in ClipWordSplitter.Split(normalized))
                tokens.AddRange(bpe.Encode(ByteLevelAlphabet.Encode(word)));
        }
        return tokens;
    }

    /// <summary>The id of one token string (added tokens first, then the vocabulary, else the unknown id).</summary>
    public int TokenToId(string token) =>
        addedByContent.TryGetValue(token, out var added) ? added.Id
        : vocabulary.TryGetValue(token, out int id) ? id
        : UnkId;

    /// <summary>The token string of <paramref name="id"/>.</summary>
    public string IdToToken(int id) =>
        tokenById.TryGetValue(id, out var token) ? token : throw new ArgumentOutOfRangeException(nameof(id), id, "not a token id");

    /// <summary>BOS, the ids of <paramref name="text"/>, EOS; not truncated.</summary>
    public int[] Encode(string text)
    {
        var tokens = Tokenize(text);
        var ids = new int[tokens.Count + 2];
        ids[0] = BosId;
        for (int i = 0; i < tokens.Count; i++) ids[i + 1] = TokenToId(tokens[i]);
        ids[^1] = EosId;
        return ids;
    }

    /// <summary>
    /// What SD pipelines feed the text encoder (<c>padding="max_length", truncation=True</c>): BOS, at
    /// most <paramref name="maxLength"/> − 2 tokens, EOS, then pad ids up to <paramref name="maxLength"/>
    /// (default <see cref="ModelMaxLength"/>).
    /// </summary>
    public ClipEncoding EncodePadded(string text, int? maxLength = null)
    {
        int length = maxLength ?? ModelMaxLength;
        if (length < 2) throw new ArgumentOutOfRangeException(nameof(maxLength), length, "must leave room for BOS and EOS");
        var tokens = Tokenize(text);
        int kept = Math.Min(tokens.Count, length - 2);
        var ids = new int[length];
        var shown = new string[kept + 2];
        ids[0] = BosId;
        shown[0] = BosToken;
        for (int i = 0; i < kept; i++)
        {
            ids[i + 1] = TokenToId(tokens[i]);
            shown[i + 1] = tokens[i];
        }
        ids[kept + 1] = EosId;
        shown[kept + 1] = EosToken;
        Array.Fill(ids, PadId, kept + 2, length - kept - 2);
        return new ClipEncoding(ids, shown, tokens.Count > kept, tokens.Count + 2, kept + 2);
    }

    /// <summary>Text of <paramref name="ids"/> as transformers decodes it: "&lt;/w&gt;" becomes a space.</summary>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true)
    {
        var sb = new StringBuilder();
        foreach (int id in ids)
        {
            if (skipSpecialTokens && specialIds.Contains(id)) continue;
            sb.Append(IdToToken(id));
        }
        return PythonText.Strip(ByteLevelAlphabet.Decode(sb.ToString()).Replace(BytePairEncoder.EndOfWord, " "));
    }

    /// <summary>A token string for people: its bytes decoded as UTF-8, with "&lt;/w&gt;" shown as a trailing '·'.</summary>
    public static string ToReadable(string token)
    {
        bool endOfWord = token.EndsWith(BytePairEncoder.EndOfWord, StringComparison.Ordinal);
        string body = endOfWord ? token[..^BytePairEncoder.EndOfWord.Length] : token;
        return ByteLevelAlphabet.Decode(body) + (endOfWord ? "·" : "");
    }

    // whitespace_clean: runs of \s (regex module) become one space, then str.strip().
    static string CollapseWhitespace(string text)
    {
        var sb = new StringBuilder(text.Length);
        bool inRun = false;
        foreach (char c in text)
        {
            // Every \s character of the regex module is in the BMP.
            bool space = c == ' ' || (c >= 9 && CodePointRanges.Contains(TextTables.RegexSpaceRanges, c));
            if (space)
            {
                if (!inRun) sb.Append(' ');
                inRun = true;
            }
            else
            {
                sb.Append(c);
                inRun = false;
            }
        }
        return PythonText.Strip(sb.ToString());
    }
}

/// <summary>A prompt encoded for the text encoder.</summary>
/// <param name="Ids">Exactly maxLength ids: BOS, tokens, EOS, padding.</param>
/// <param name="Tokens">The token strings of the non-padding ids, BOS and EOS included (see <see cref="ClipTokenizer.ToReadable"/>).</param>
/// <param name="Truncated">Tokens were dropped to fit.</param>
/// <param name="UntruncatedLength">Ids the prompt needs without truncation, BOS and EOS included.</param>
/// <param name="Length">Non-padding ids (BOS and EOS included) — what an attention mask would mark.</param>
public sealed record ClipEncoding(int[] Ids, string[] Tokens, bool Truncated, int UntruncatedLength, int Length);
