namespace Deja.Diffusion.IO;

/// <summary>
/// unet/config.json of a diffusers <c>UNet2DConditionModel</c>. Defaults are diffusers' constructor
/// defaults (0.25). Per-block settings that may be written as one value or a list are expanded to one
/// value per down block (index i = down block i; up blocks use them reversed, the mid block the last).
/// </summary>
public sealed record UNet2DConditionConfig : DiffusersConfig
{
    public static readonly string[] SupportedDownBlocks = ["CrossAttnDownBlock2D", "DownBlock2D"];
    public static readonly string[] SupportedUpBlocks = ["CrossAttnUpBlock2D", "UpBlock2D"];
    public static readonly string[] SupportedMidBlocks = ["UNetMidBlock2DCrossAttn"];

    public string ClassName { get; init; } = "UNet2DConditionModel";
    public int? SampleSize { get; init; }
    public int InChannels { get; init; } = 4;
    public int OutChannels { get; init; } = 4;
    public bool CenterInputSample { get; init; }
    public bool FlipSinToCos { get; init; } = true;
    public int FreqShift { get; init; }
    public string[] DownBlockTypes { get; init; } = ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"];
    public string? MidBlockType { get; init; } = "UNetMidBlock2DCrossAttn";
    public string[] UpBlockTypes { get; init; } = ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"];
    public bool[] OnlyCrossAttention { get; init; } = [];
    public int[] BlockOutChannels { get; init; } = [320, 640, 1280, 1280];
    public int[] LayersPerBlock { get; init; } = [];
    public int DownsamplePadding { get; init; } = 1;
    public double MidBlockScaleFactor { get; init; } = 1;
    public double Dropout { get; init; }
    public string ActFn { get; init; } = "silu";
    /// <summary>Null means no GroupNorm (never the case for SD).</summary>
    public int? NormNumGroups { get; init; } = 32;
    public double NormEps { get; init; } = 1e-5;
    public int[] CrossAttentionDim { get; init; } = [];
    public int[] TransformerLayersPerBlock { get; init; } = [];
    public int? EncoderHidDim { get; init; }
    public string? EncoderHidDimType { get; init; }
    /// <summary>
    /// Legacy name: in diffusers' UNet2DConditionModel this is the NUMBER OF HEADS per block (SD1: 8;
    /// SD2: [5,10,20,20], i.e. head dim 64), not the head dimension. Use <see cref="HeadsPerBlock"/>.
    /// </summary>
    public int[] AttentionHeadDim { get; init; } = [];
    public bool AttentionHeadDimIsList { get; init; }
    public int[]? NumAttentionHeads { get; init; }
    public bool DualCrossAttention { get; init; }
    public bool UseLinearProjection { get; init; }
    public string? ClassEmbedType { get; init; }
    public string? AdditionEmbedType { get; init; }
    public int? NumClassEmbeds { get; init; }
    public bool UpcastAttention { get; init; }
    public string ResnetTimeScaleShift { get; init; } = "default";
    public bool ResnetSkipTimeAct { get; init; }
    public double ResnetOutScaleFactor { get; init; } = 1;
    public string TimeEmbeddingType { get; init; } = "positional";
    public int? TimeEmbeddingDim { get; init; }
    public string? TimeEmbeddingActFn { get; init; }
    public string? TimestepPostAct { get; init; }
    public int? TimeCondProjDim { get; init; }
    public int ConvInKernel { get; init; } = 3;
    public int ConvOutKernel { get; init; } = 3;
    public int? ProjectionClassEmbeddingsInputDim { get; init; }
    public string AttentionType { get; init; } = "default";
    public bool ClassEmbeddingsConcat { get; init; }
    public bool? MidBlockOnlyCrossAttention { get; init; }
    public string? CrossAttentionNorm { get; init; }

    /// <summary>Attention heads of the transformers in down block i (diffusers: num_attention_heads or attention_head_dim).</summary>
    public int[] HeadsPerBlock => NumAttentionHeads ?? AttentionHeadDim;

    /// <summary>Width of the timestep embedding (time_embedding.linear_1 output).</summary>
    public int TimeEmbedDim => TimeEmbeddingDim ?? 4 * BlockOutChannels[0];

    /// <summary>
    /// Reads a config file; the fields that fix the weight shapes must be present (see <see cref="ConfigReader.Require"/>),
    /// and the head count as attention_head_dim or num_attention_heads.
    /// </summary>
    public static UNet2DConditionConfig Load(string path)
    {
        var r = ConfigReader.Load(path).Require(RequiredKeys);
        if (!r.Has("num_attention_heads")) r.Require("attention_head_dim");
        return From(r);
    }

    /// <summary>Fields a config file must have; <see cref="Parse"/> (configs written in code) fills them with defaults instead.</summary>
    public static readonly string[] RequiredKeys =
        ["in_channels", "out_channels", "down_block_types", "up_block_types", "block_out_channels", "layers_per_block", "cross_attention_dim"];
    public static UNet2DConditionConfig Parse(string json, string source = "unet/config.json") => From(ConfigReader.Parse(json, source));

    static UNet2DConditionConfig From(ConfigReader r)
    {
        var down = r.Strings("down_block_types", ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"]);
        int n = down.Length;
        return new UNet2DConditionConfig
        {
            Source = r.Source,
            Raw = r.Root,
            ClassName = r.String("_class_name", "UNet2DConditionModel"),
            SampleSize = r.IntOrNull("sample_size"),
            InChannels = r.Int("in_channels", 4),
            OutChannels = r.Int("out_channels", 4),
            CenterInputSample = r.Bool("center_input_sample", false),
            FlipSinToCos = r.Bool("flip_sin_to_cos", true),
            FreqShift = r.Int("freq_shift", 0),
            DownBlockTypes = down,
            MidBlockType = r.Root.TryGetProperty("mid_block_type", out _) ? r.StringOrNull("mid_block_type") : "UNetMidBlock2DCrossAttn",
            UpBlockTypes = r.Strings("up_block_types", ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]),
            OnlyCrossAttention = r.BoolPerBlock("only_cross_attention", n, false),
            BlockOutChannels = r.Ints("block_out_channels", [320, 640, 1280, 1280]),
            LayersPerBlock = r.IntPerBlock("layers_per_block", n, 2),
            DownsamplePadding = r.Int("downsample_padding", 1),
            MidBlockScaleFactor = r.Double("mid_block_scale_factor", 1),
            Dropout = r.Double("dropout", 0),
            ActFn = r.String("act_fn", "silu"),
            NormNumGroups = r.Root.TryGetProperty("norm_num_groups", out _) ? r.IntOrNull("norm_num_groups") : 32,
            NormEps = r.Double("norm_eps", 1e-5),
            CrossAttentionDim = r.IntPerBlock("cross_attention_dim", n, 1280),
            TransformerLayersPerBlock = r.IntPerBlock("transformer_layers_per_block", n, 1),
            EncoderHidDim = r.IntOrNull("encoder_hid_dim"),
            EncoderHidDimType = r.StringOrNull("encoder_hid_dim_type"),
            AttentionHeadDim = r.IntPerBlock("attention_head_dim", n, 8),
            AttentionHeadDimIsList = r.IsList("attention_head_dim"),
            NumAttentionHeads = r.IntPerBlockOrNull("num_attention_heads", n),
            DualCrossAttention = r.Bool("dual_cross_attention", false),
            UseLinearProjection = r.Bool("use_linear_projection", false),
            ClassEmbedType = r.StringOrNull("class_embed_type"),
            AdditionEmbedType = r.StringOrNull("addition_embed_type"),
            NumClassEmbeds = r.IntOrNull("num_class_embeds"),
            UpcastAttention = r.Bool("upcast_attention", false),
            ResnetTimeScaleShift = r.String("resnet_time_scale_shift", "default"),
            ResnetSkipTimeAct = r.Bool("resnet_skip_time_act", false),
            ResnetOutScaleFactor = r.Double("resnet_out_scale_factor", 1),
            TimeEmbeddingType = r.String("time_embedding_type", "positional"),
            TimeEmbeddingDim = r.IntOrNull("time_embedding_dim"),
            TimeEmbeddingActFn = r.StringOrNull("time_embedding_act_fn"),
            TimestepPostAct = r.StringOrNull("timestep_post_act"),
            TimeCondProjDim = r.IntOrNull("time_cond_proj_dim"),
            ConvInKernel = r.Int("conv_in_kernel", 3),
            ConvOutKernel = r.Int("conv_out_kernel", 3),
            ProjectionClassEmbeddingsInputDim = r.IntOrNull("projection_class_embeddings_input_dim"),
            AttentionType = r.String("attention_type", "default"),
            ClassEmbeddingsConcat = r.Bool("class_embeddings_concat", false),
            MidBlockOnlyCrossAttention = r.BoolOrNull("mid_block_only_cross_attention"),
            CrossAttentionNorm = r.StringOrNull("cross_attention_norm"),
        };
    }

    static readonly HashSet<string> Keys =
    [
        "_class_name", "_diffusers_version", "sample_size", "in_channels", "out_channels", "center_input_sample", "flip_sin_to_cos",
        "freq_shift", "down_block_types", "mid_block_type", "up_block_types", "only_cross_attention", "block_out_channels",
        "layers_per_block", "downsample_padding", "mid_block_scale_factor", "dropout", "act_fn", "norm_num_groups", "norm_eps",
        "cross_attention_dim", "transformer_layers_per_block", "encoder_hid_dim", "encoder_hid_dim_type", "attention_head_dim",
        "num_attention_heads", "dual_cross_attention", "use_linear_projection", "class_embed_type", "addition_embed_type",
        "num_class_embeds", "upcast_attention", "resnet_time_scale_shift", "resnet_skip_time_act", "resnet_out_scale_factor",
        "time_embedding_type", "time_embedding_dim", "time_embedding_act_fn", "timestep_post_act", "time_cond_proj_dim",
        "conv_in_kernel", "conv_out_kernel", "projection_class_embeddings_input_dim", "attention_type", "class_embeddings_concat",
        "mid_block_only_cross_attention", "cross_attention_norm",
    ];

    protected override IReadOnlySet<string> ModeledKeys => Keys;

    public override IReadOnlyList<string> Problems()
    {
        var p = new List<string>();
        void Bad(string what) => p.Add($"{Source}: {what}");

        if (ClassName != "UNet2DConditionModel")
            Bad($"_class_name '{ClassName}' is not supported (supported: UNet2DConditionModel)");
        for (int i = 0; i < DownBlockTypes.Length; i++)
            if (!SupportedDownBlocks.Contains(DownBlockTypes[i]))
                Bad($"down_block_types[{i}] '{DownBlockTypes[i]}' is not supported (supported: {List(SupportedDownBlocks)})");
        for (int i = 0; i < UpBlockTypes.Length; i++)
            if (!SupportedUpBlocks.Contains(UpBlockTypes[i]))
                Bad($"up_block_types[{i}] '{UpBlockTypes[i]}' is not supported (supported: {List(SupportedUpBlocks)})");
        if (MidBlockType is null || !SupportedMidBlocks.Contains(MidBlockType))
            Bad($"mid_block_type '{MidBlockType ?? "null"}' is not supported (supported: {List(SupportedMidBlocks)})");

        int n = DownBlockTypes.Length;
        if (n == 0) Bad("down_block_types is empty");
        // Far above any SD UNet; they bound the loops that lay out the model before its size is checked,
        // and sample_size bounds the latents a run allocates for the default image size.
        if (n > Limits.MaxBlocks) Bad($"{n} blocks is implausible (at most {Limits.MaxBlocks})");
        if (LayersPerBlock.Concat(TransformerLayersPerBlock).Any(l => l > Limits.MaxLayers))
            Bad($"layers_per_block / transformer_layers_per_block above {Limits.MaxLayers} are implausible");
        if (SampleSize is int side && (side <= 0 || side > Limits.MaxSampleSize))
            Bad($"sample_size {side} must be between 1 and {Limits.MaxSampleSize}");
        if (TimeEmbeddingDim is <= 0) Bad($"time_embedding_dim {TimeEmbeddingDim} must be positive");
        if (UpBlockTypes.Length != n) Bad($"up_block_types has {UpBlockTypes.Length} entries but down_block_types has {n}");
        if (BlockOutChannels.Length != n) Bad($"block_out_channels has {BlockOutChannels.Length} entries but down_block_types has {n}");
        CheckPerBlock(p, "layers_per_block", LayersPerBlock, n);
        CheckPerBlock(p, "cross_attention_dim", CrossAttentionDim, n);
        CheckPerBlock(p, "transformer_layers_per_block", TransformerLayersPerBlock, n);
        CheckPerBlock(p, "attention_head_dim", AttentionHeadDim, n);
        if (NumAttentionHeads is not null) CheckPerBlock(p, "num_attention_heads", NumAttentionHeads, n);
        if (OnlyCrossAttention.Length != n) Bad($"only_cross_attention has {OnlyCrossAttention.Length} entries but there are {n} down blocks");

        if (BlockOutChannels.Any(c => c <= 0)) Bad("block_out_channels must be positive");
        if (NormNumGroups is not int g || g <= 0) Bad($"norm_num_groups {NormNumGroups?.ToString() ?? "null"} is not supported (GroupNorm with a positive group count is required)");
        else if (BlockOutChannels.Any(c => c % g != 0)) Bad($"norm_num_groups {g} does not divide every block_out_channels entry ({List(BlockOutChannels.Select(c => c.ToString()))})");
        var heads = HeadsPerBlock;
        if (heads.Length == n && BlockOutChannels.Length == n)
            for (int i = 0; i < n; i++)
                if (heads[i] <= 0 || BlockOutChannels[i] % heads[i] != 0)
                    Bad($"block {i}: {BlockOutChannels[i]} channels cannot be split into {heads[i]} attention heads");

        if (ActFn != "silu") Bad($"act_fn '{ActFn}' is not supported (supported: silu)");
        if (TimeEmbeddingType != "positional") Bad($"time_embedding_type '{TimeEmbeddingType}' is not supported (supported: positional)");
        if (ResnetTimeScaleShift != "default") Bad($"resnet_time_scale_shift '{ResnetTimeScaleShift}' is not supported (supported: default)");
        if (AttentionType != "default") Bad($"attention_type '{AttentionType}' is not supported (supported: default)");
        if (ClassEmbedType is not null || NumClassEmbeds is not null) Bad("class embeddings (class_embed_type / num_class_embeds) are not supported (supported: null)");
        if (AdditionEmbedType is not null) Bad($"addition_embed_type '{AdditionEmbedType}' is not supported (SDXL-style extra conditioning; supported: null)");
        if (EncoderHidDim is not null || EncoderHidDimType is not null) Bad("encoder_hid_dim / encoder_hid_dim_type are not supported (supported: null)");
        if (TimeCondProjDim is not null) Bad("time_cond_proj_dim is not supported (supported: null)");
        if (TimeEmbeddingActFn is not null || TimestepPostAct is not null) Bad("time_embedding_act_fn / timestep_post_act are not supported (supported: null)");
        if (CrossAttentionNorm is not null) Bad($"cross_attention_norm '{CrossAttentionNorm}' is not supported (supported: null)");
        if (DualCrossAttention) Bad("dual_cross_attention true is not supported (supported: false)");
        if (OnlyCrossAttention.Any(x => x) || MidBlockOnlyCrossAttention == true) Bad("only_cross_attention true is not supported (supported: false)");
        if (ResnetSkipTimeAct) Bad("resnet_skip_time_act true is not supported (supported: false)");
        // Checked here, not only when the model is built, so that opening a pipeline folder reports them
        // (fuzzing found a folder that opened cleanly and then failed to load with a non-Deja error).
        if (ResnetOutScaleFactor != 1) Bad($"resnet_out_scale_factor {ResnetOutScaleFactor} is not supported (supported: 1)");
        if (MidBlockScaleFactor != 1) Bad($"mid_block_scale_factor {MidBlockScaleFactor} is not supported (supported: 1)");
        if (DownsamplePadding != 1) Bad($"downsample_padding {DownsamplePadding} is not supported (supported: 1)");
        if (ConvInKernel % 2 == 0 || ConvInKernel <= 0 || ConvOutKernel % 2 == 0 || ConvOutKernel <= 0)
            Bad($"conv_in_kernel {ConvInKernel} / conv_out_kernel {ConvOutKernel} must be odd and positive");
        if (InChannels <= 0 || OutChannels <= 0) Bad("in_channels and out_channels must be positive");
        return p;
    }

    void CheckPerBlock(List<string> p, string key, int[] values, int n)
    {
        if (values.Length != n) p.Add($"{Source}: {key} has {values.Length} entries but there are {n} down blocks");
        else if (values.Any(v => v <= 0)) p.Add($"{Source}: {key} must be positive, found [{string.Join(", ", values)}]");
    }
}
