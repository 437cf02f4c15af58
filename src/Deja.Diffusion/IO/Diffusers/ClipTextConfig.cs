namespace Deja.Diffusion.IO;

/// <summary>
/// text_encoder/config.json of a transformers <c>CLIPTextModel</c>; defaults are transformers'
/// <c>CLIPTextConfig</c> defaults. The bos/eos/pad ids here are the config's legacy values (SD1: 0/2/1),
/// not the tokenizer's; the real special-token ids come from the tokenizer files.
/// </summary>
public sealed record ClipTextConfig : DiffusersConfig
{
    public static readonly string[] SupportedActivations = ["quick_gelu", "gelu"];

    public string[] Architectures { get; init; } = [];
    public string ModelType { get; init; } = "clip_text_model";
    public int VocabSize { get; init; } = 49408;
    public int HiddenSize { get; init; } = 512;
    public int IntermediateSize { get; init; } = 2048;
    public int ProjectionDim { get; init; } = 512;
    public int NumHiddenLayers { get; init; } = 12;
    public int NumAttentionHeads { get; init; } = 8;
    public int MaxPositionEmbeddings { get; init; } = 77;
    public string HiddenAct { get; init; } = "quick_gelu";
    public double LayerNormEps { get; init; } = 1e-5;
    public double AttentionDropout { get; init; }
    public int PadTokenId { get; init; } = 1;
    public int BosTokenId { get; init; } = 49406;
    public int EosTokenId { get; init; } = 49407;
    public string? TorchDtype { get; init; }

    public int HeadDim => HiddenSize / NumAttentionHeads;

    /// <summary>Reads a config file; the fields that fix the weight shapes must be present (see <see cref="ConfigReader.Require"/>).</summary>
    public static ClipTextConfig Load(string path) => From(ConfigReader.Load(path).Require(RequiredKeys));

    /// <summary>Fields a config file must have; <see cref="Parse"/> (configs written in code) fills them with defaults instead.</summary>
    public static readonly string[] RequiredKeys =
        ["vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "max_position_embeddings"];
    public static ClipTextConfig Parse(string json, string source = "text_encoder/config.json") => From(ConfigReader.Parse(json, source));

    static ClipTextConfig From(ConfigReader r) => new()
    {
        Source = r.Source,
        Raw = r.Root,
        Architectures = r.Strings("architectures", []),
        ModelType = r.String("model_type", "clip_text_model"),
        VocabSize = r.Int("vocab_size", 49408),
        HiddenSize = r.Int("hidden_size", 512),
        IntermediateSize = r.Int("intermediate_size", 2048),
        ProjectionDim = r.Int("projection_dim", 512),
        NumHiddenLayers = r.Int("num_hidden_layers", 12),
        NumAttentionHeads = r.Int("num_attention_heads", 8),
        MaxPositionEmbeddings = r.Int("max_position_embeddings", 77),
        HiddenAct = r.String("hidden_act", "quick_gelu"),
        LayerNormEps = r.Double("layer_norm_eps", 1e-5),
        AttentionDropout = r.Double("attention_dropout", 0),
        PadTokenId = r.Int("pad_token_id", 1),
        BosTokenId = r.Int("bos_token_id", 49406),
        EosTokenId = r.Int("eos_token_id", 49407),
        TorchDtype = r.StringOrNull("torch_dtype"),
    };

    static readonly HashSet<string> Keys =
    [
        "architectures", "model_type", "vocab_size", "hidden_size", "intermediate_size", "projection_dim", "num_hidden_layers",
        "num_attention_heads", "max_position_embeddings", "hidden_act", "layer_norm_eps", "attention_dropout", "pad_token_id",
        "bos_token_id", "eos_token_id", "torch_dtype",
    ];

    protected override IReadOnlySet<string> ModeledKeys => Keys;

    public override IReadOnlyList<string> Problems()
    {
        var p = new List<string>();
        void Bad(string what) => p.Add($"{Source}: {what}");
        if (Architectures.Length > 0 && !Architectures.Contains("CLIPTextModel"))
            Bad($"architectures [{List(Architectures)}] is not supported (supported: CLIPTextModel)");
        if (!SupportedActivations.Contains(HiddenAct))
            Bad($"hidden_act '{HiddenAct}' is not supported (supported: {List(SupportedActivations)})");
        if (HiddenSize <= 0 || NumAttentionHeads <= 0 || HiddenSize % NumAttentionHeads != 0)
            Bad($"hidden_size {HiddenSize} cannot be split into {NumAttentionHeads} attention heads");
        if (NumHiddenLayers <= 0 || IntermediateSize <= 0 || VocabSize <= 0 || MaxPositionEmbeddings <= 0)
            Bad("num_hidden_layers, intermediate_size, vocab_size and max_position_embeddings must be positive");
        // Far above any CLIP text encoder; they bound the loops that lay out the model before its size is checked.
        if (NumHiddenLayers > Limits.MaxLayers) Bad($"num_hidden_layers {NumHiddenLayers} is implausible (at most {Limits.MaxLayers})");
        if (MaxPositionEmbeddings > Limits.MaxPositions) Bad($"max_position_embeddings {MaxPositionEmbeddings} is implausible (at most {Limits.MaxPositions})");
        return p;
    }
}
