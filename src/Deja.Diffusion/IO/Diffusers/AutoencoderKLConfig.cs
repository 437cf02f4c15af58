namespace Deja.Diffusion.IO;

/// <summary>vae/config.json of a diffusers <c>AutoencoderKL</c>; defaults are diffusers' constructor defaults.</summary>
public sealed record AutoencoderKLConfig : DiffusersConfig
{
    public static readonly string[] SupportedDownBlocks = ["DownEncoderBlock2D"];
    public static readonly string[] SupportedUpBlocks = ["UpDecoderBlock2D"];

    public string ClassName { get; init; } = "AutoencoderKL";
    public int InChannels { get; init; } = 3;
    public int OutChannels { get; init; } = 3;
    public string[] DownBlockTypes { get; init; } = ["DownEncoderBlock2D"];
    public string[] UpBlockTypes { get; init; } = ["UpDecoderBlock2D"];
    public int[] BlockOutChannels { get; init; } = [64];
    public int LayersPerBlock { get; init; } = 1;
    public string ActFn { get; init; } = "silu";
    public int LatentChannels { get; init; } = 4;
    public int NormNumGroups { get; init; } = 32;
    public int SampleSize { get; init; } = 32;
    /// <summary>Latents are scaled by this after encoding and divided by it before decoding (SD: 0.18215).</summary>
    public double ScalingFactor { get; init; } = 0.18215;
    /// <summary>Newer configs (SD3/Flux-style); null for SD1/SD2.</summary>
    public double? ShiftFactor { get; init; }
    public bool ForceUpcast { get; init; } = true;
    public bool UseQuantConv { get; init; } = true;
    public bool UsePostQuantConv { get; init; } = true;
    public bool MidBlockAddAttention { get; init; } = true;

    /// <summary>Image pixels per latent pixel along each side (8 for SD, 4 for the tiny test VAE).</summary>
    public int DownsampleFactor => 1 << Math.Max(0, BlockOutChannels.Length - 1);

    /// <summary>Reads a config file; the fields that fix the weight shapes must be present (see <see cref="ConfigReader.Require"/>).</summary>
    public static AutoencoderKLConfig Load(string path) => From(ConfigReader.Load(path).Require(RequiredKeys));

    /// <summary>Fields a config file must have; <see cref="Parse"/> (configs written in code) fills them with defaults instead.</summary>
    public static readonly string[] RequiredKeys =
        ["in_channels", "out_channels", "latent_channels", "block_out_channels", "down_block_types", "up_block_types", "layers_per_block"];
    public static AutoencoderKLConfig Parse(string json, string source = "vae/config.json") => From(ConfigReader.Parse(json, source));

    static AutoencoderKLConfig From(ConfigReader r) => new()
    {
        Source = r.Source,
        Raw = r.Root,
        ClassName = r.String("_class_name", "AutoencoderKL"),
        InChannels = r.Int("in_channels", 3),
        OutChannels = r.Int("out_channels", 3),
        DownBlockTypes = r.Strings("down_block_types", ["DownEncoderBlock2D"]),
        UpBlockTypes = r.Strings("up_block_types", ["UpDecoderBlock2D"]),
        BlockOutChannels = r.Ints("block_out_channels", [64]),
        LayersPerBlock = r.Int("layers_per_block", 1),
        ActFn = r.String("act_fn", "silu"),
        LatentChannels = r.Int("latent_channels", 4),
        NormNumGroups = r.Int("norm_num_groups", 32),
        SampleSize = r.Int("sample_size", 32),
        ScalingFactor = r.Double("scaling_factor", 0.18215),
        ShiftFactor = r.Has("shift_factor") ? r.Double("shift_factor", 0) : null,
        ForceUpcast = r.Bool("force_upcast", true),
        UseQuantConv = r.Bool("use_quant_conv", true),
        UsePostQuantConv = r.Bool("use_post_quant_conv", true),
        MidBlockAddAttention = r.Bool("mid_block_add_attention", true),
    };

    static readonly HashSet<string> Keys =
    [
        "_class_name", "_diffusers_version", "in_channels", "out_channels", "down_block_types", "up_block_types", "block_out_channels",
        "layers_per_block", "act_fn", "latent_channels", "norm_num_groups", "sample_size", "scaling_factor", "shift_factor",
        "force_upcast", "use_quant_conv", "use_post_quant_conv", "mid_block_add_attention",
    ];

    protected override IReadOnlySet<string> ModeledKeys => Keys;

    public override IReadOnlyList<string> Problems()
    {
        var p = new List<string>();
        void Bad(string what) => p.Add($"{Source}: {what}");
        if (ClassName != "AutoencoderKL") Bad($"_class_name '{ClassName}' is not supported (supported: AutoencoderKL)");
        for (int i = 0; i < DownBlockTypes.Length; i++)
            if (!SupportedDownBlocks.Contains(DownBlockTypes[i]))
                Bad($"down_block_types[{i}] '{DownBlockTypes[i]}' is not supported (supported: {List(SupportedDownBlocks)})");
        for (int i = 0; i < UpBlockTypes.Length; i++)
            if (!SupportedUpBlocks.Contains(UpBlockTypes[i]))
                Bad($"up_block_types[{i}] '{UpBlockTypes[i]}' is not supported (supported: {List(SupportedUpBlocks)})");
        int n = BlockOutChannels.Length;
        if (n == 0) Bad("block_out_channels is empty");
        if (n > Limits.MaxBlocks) Bad($"{n} blocks is implausible (at most {Limits.MaxBlocks})");
        if (LayersPerBlock > Limits.MaxLayers) Bad($"layers_per_block {LayersPerBlock} is implausible (at most {Limits.MaxLayers})");
        if (DownBlockTypes.Length != n || UpBlockTypes.Length != n)
            Bad($"down_block_types ({DownBlockTypes.Length}), up_block_types ({UpBlockTypes.Length}) and block_out_channels ({n}) must have the same length");
        if (NormNumGroups <= 0 || BlockOutChannels.Any(c => c <= 0 || c % NormNumGroups != 0))
            Bad($"norm_num_groups {NormNumGroups} does not divide every block_out_channels entry ({List(BlockOutChannels.Select(c => c.ToString()))})");
        if (ActFn != "silu") Bad($"act_fn '{ActFn}' is not supported (supported: silu)");
        if (LayersPerBlock <= 0 || LatentChannels <= 0 || InChannels <= 0 || OutChannels <= 0)
            Bad("layers_per_block, latent_channels, in_channels and out_channels must be positive");
        if (!(ScalingFactor > 0)) Bad($"scaling_factor {ScalingFactor} must be positive");
        if (!UseQuantConv || !UsePostQuantConv) Bad("use_quant_conv / use_post_quant_conv false is not supported (supported: true)");
        if (ShiftFactor is double shift && shift != 0) Bad($"shift_factor {shift} is not supported (SD1/SD2 VAEs have none)");
        if (!MidBlockAddAttention) Bad("mid_block_add_attention false is not supported (supported: true)");
        return p;
    }
}
