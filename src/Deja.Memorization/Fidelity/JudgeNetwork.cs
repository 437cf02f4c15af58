using System.Text.Json.Nodes;
using Deja.Diffusion.Data;
using Deja.Tensors;
using Deja.Tensors.Nn;

namespace Deja.Memorization.Fidelity;

/// <summary>
/// The judge's architecture and the label vocabularies its outputs index, as saved in config.json. The
/// vocabularies are those of `deja synth` (<see cref="Scene"/>); a judge whose saved lists differ from the
/// running code's is refused, so an output index always means the word it was trained on.
/// </summary>
public sealed record JudgeConfig
{
    public const string ClassName = "DejaCaptionJudge";
    public const int Version = 1;

    public int ImageSize { get; init; } = 32;
    /// <summary>
    /// Output channels and strides of the convolution stack; with the defaults a 32×32 image ends as 96×8×8.
    /// Two layers at full resolution: a small object is 6 pixels across, and its shape is in its edges.
    /// </summary>
    public int[] Channels { get; init; } = [32, 32, 64, 64, 96, 96];
    public int[] Strides { get; init; } = [1, 1, 2, 1, 2, 1];
    /// <summary>Width of the per-cell features (and of the cell head's hidden layer).</summary>
    public int CellChannels { get; init; } = 128;
    /// <summary>Hidden width of the background head.</summary>
    public int BackgroundHidden { get; init; } = 64;
    public int Groups { get; init; } = 8;

    public static string[] Colours => [.. Scene.Colours.Select(c => c.Name)];
    public static string[] Shapes => Scene.Shapes;
    public static string[] Sizes => Scene.Sizes;
    public static string[] Textures => Scene.Textures;

    /// <summary>Per cell: presence (absent, present), colour, shape, size logits, in this order.</summary>
    public static int CellOutputs => 2 + Colours.Length + Shapes.Length + Sizes.Length;
    /// <summary>Background: colour then texture logits.</summary>
    public static int BackgroundOutputs => Colours.Length + Textures.Length;

    /// <summary>Side of the feature map the convolutions leave (8 for 32×32 with two stride-2 layers).</summary>
    public int FeatureSize => Strides.Aggregate(ImageSize, (s, stride) => (s + 2 - 3) / stride + 1);

    public void Validate()
    {
        if (Channels.Length == 0 || Channels.Length != Strides.Length) throw new DejaException($"judge config: channels ({Channels.Length}) and strides ({Strides.Length}) must be non-empty lists of one length");
        if (Channels.Any(c => c < Groups || c % Groups != 0) || CellChannels % Groups != 0)
            throw new DejaException($"judge config: every channel count must be a multiple of groups ({Groups})");
        if (Strides.Any(s => s is not (1 or 2))) throw new DejaException("judge config: strides must be 1 or 2");
        // The cell layer (kernel 4, stride 2, no padding) must turn the feature map into exactly 3×3 cells.
        if (FeatureSize != 8) throw new DejaException($"judge config: image size {ImageSize} with strides [{string.Join(", ", Strides)}] leaves a {FeatureSize}×{FeatureSize} feature map; the 3×3 cell layer needs 8×8");
    }

    public JsonObject ToJson() => new()
    {
        ["_class_name"] = ClassName, ["version"] = Version, ["image_size"] = ImageSize,
        ["channels"] = new JsonArray([.. Channels.Select(c => (JsonNode)c)]), ["strides"] = new JsonArray([.. Strides.Select(s => (JsonNode)s)]),
        ["cell_channels"] = CellChannels, ["background_hidden"] = BackgroundHidden, ["groups"] = Groups,
        ["colours"] = Words(Colours), ["shapes"] = Words(Shapes), ["sizes"] = Words(Sizes), ["textures"] = Words(Textures),
    };

    static JsonArray Words(string[] words) => new([.. words.Select(w => (JsonNode)w)]);

    public static JudgeConfig FromJson(JsonNode? node, string where)
    {
        if (node is not JsonObject o) throw new DejaException($"{where}: not a JSON object");
        if ((string?)o["_class_name"] != ClassName) throw new DejaException($"{where}: _class_name is not {ClassName}");
        if ((int?)o["version"] != Version) throw new DejaException($"{where}: version {o["version"]?.ToJsonString() ?? "missing"}, this Deja reads version {Version}");
        foreach (var (key, expected) in new[] { ("colours", Colours), ("shapes", Shapes), ("sizes", Sizes), ("textures", Textures) })
        {
            var saved = (o[key] as JsonArray)?.Select(x => (string?)x).ToArray();
            if (saved is null || !saved.SequenceEqual(expected))
                throw new DejaException($"{where}: {key} [{string.Join(", ", saved ?? [])}] differ from deja synth's [{string.Join(", ", expected)}]");
        }
        int Int(string key) => (int?)o[key] ?? throw new DejaException($"{where}: no integer '{key}'");
        int[] Ints(string key) => (o[key] as JsonArray)?.Select(x => (int?)x ?? throw new DejaException($"{where}: '{key}' holds a non-integer")).ToArray()
            ?? throw new DejaException($"{where}: no list '{key}'");
        var config = new JudgeConfig
        {
            ImageSize = Int("image_size"), Channels = Ints("channels"), Strides = Ints("strides"),
            CellChannels = Int("cell_channels"), BackgroundHidden = Int("background_hidden"), Groups = Int("groups"),
        };
        config.Validate();
        return config;
    }
}

/// <summary>
/// The attribute judge: a small CNN with one head per grid cell and one for the background. Convolutions
/// (3×3, GroupNorm, SiLU) take the image to an 8×8 feature map; a 4×4 convolution with stride 2 turns it
/// into exactly 3×3 cell features, one per grid position, each covering its cell and a margin (objects
/// spill over cell borders). A learned per-cell embedding is added, since cells sit at different offsets
/// to their windows, and a head shared by all cells reads presence, colour, shape and size: attributes
/// are bound to an object by construction, because they are read at its cell. The background head reads
/// the 8×8 map averaged over space (texture and colour are everywhere the objects are not).
/// </summary>
public sealed class JudgeNetwork : Module
{
    public JudgeConfig Config { get; }
    readonly ModuleList<Conv2d> convs;
    readonly ModuleList<GroupNorm> norms;
    readonly Conv2d cells, cellHidden, cellOut;
    readonly GroupNorm cellNorm;
    readonly Tensor cellEmbedding;
    readonly Linear backgroundHidden, backgroundOut;

    public JudgeNetwork(JudgeConfig config, Generator? init = null)
    {
        config.Validate();
        Config = config;
        var g = init ?? new Generator(0);
        convs = Register("convs", new ModuleList<Conv2d>());
        norms = Register("norms", new ModuleList<GroupNorm>());
        int previous = 3;
        for (int i = 0; i < config.Channels.Length; i++)
        {
            convs.Add(new Conv2d(previous, config.Channels[i], 3, config.Strides[i], 1, init: g));
            norms.Add(new GroupNorm(config.Groups, config.Channels[i]));
            previous = config.Channels[i];
        }
        cells = Register("cells", new Conv2d(previous, config.CellChannels, 4, stride: 2, padding: 0, init: g));
        cellNorm = Register("cell_norm", new GroupNorm(config.Groups, config.CellChannels));
        cellEmbedding = Parameter("cell_embedding", Init.Uniform(g, -0.1f, 0.1f, 1, config.CellChannels, 3, 3));
        cellHidden = Register("cell_hidden", new Conv2d(config.CellChannels, config.CellChannels, 1, init: g));
        cellOut = Register("cell_out", new Conv2d(config.CellChannels, JudgeConfig.CellOutputs, 1, init: g));
        backgroundHidden = Register("background_hidden", new Linear(previous, config.BackgroundHidden, init: g));
        backgroundOut = Register("background_out", new Linear(config.BackgroundHidden, JudgeConfig.BackgroundOutputs, init: g));
    }

    /// <summary>
    /// Images [N, 3, S, S] in [−1, 1] → cell logits [N·9, <see cref="JudgeConfig.CellOutputs"/>] (image n's
    /// cell r·3 + c in row 9n + 3r + c) and background logits [N, <see cref="JudgeConfig.BackgroundOutputs"/>].
    /// </summary>
    public (Tensor Cells, Tensor Background) Forward(Tensor images)
    {
        int s = Config.ImageSize;
        if (images.Rank != 4 || images.Shape[1] != 3 || images.Shape[2] != s || images.Shape[3] != s)
            throw new ArgumentException($"judge: images must be [N, 3, {s}, {s}], got {Shapes.Str(images.Shape)}");
        int n = images.Shape[0];
        var h = images;
        for (int i = 0; i < convs.Count; i++) h = norms[i].ForwardSilu(convs[i].Forward(h));
        var c = cellNorm.ForwardSilu(cells.Forward(h)) + cellEmbedding;
        var cellLogits = cellOut.Forward(Ops.Silu(cellHidden.Forward(c)));                  // [N, K, 3, 3]
        var perCell = Ops.Reshape(Ops.Permute(cellLogits, 0, 2, 3, 1), n * 9, JudgeConfig.CellOutputs);
        var pooled = Ops.Mean(h, [2, 3]);                                                     // [N, C]
        var background = backgroundOut.Forward(Ops.Silu(backgroundHidden.Forward(pooled)));
        return (perCell, background);
    }
}
