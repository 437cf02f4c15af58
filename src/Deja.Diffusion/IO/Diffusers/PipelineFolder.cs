using Deja.Tensors;

namespace Deja.Diffusion.IO;

/// <summary>The files of the CLIP BPE tokenizer in a pipeline's tokenizer/ folder.</summary>
public sealed record TokenizerFiles(string Directory, string VocabJson, string MergesTxt, string? TokenizerConfigJson, string? SpecialTokensMapJson);

/// <summary>
/// A Stable Diffusion 1.x/2.x pipeline saved in the diffusers layout (<c>save_pretrained</c> /
/// a Hugging Face repository snapshot): model_index.json plus text_encoder/, tokenizer/, unet/, vae/
/// and scheduler/ folders. <see cref="Open"/> checks that every file is there, that every setting is
/// one Deja supports and that the weights are readable safetensors, and reports all problems in one
/// <see cref="InvalidDataException"/> (one line per problem, each saying what is missing or unsupported
/// and what is supported).
/// </summary>
public sealed record PipelineFolder
{
    public required string Directory { get; init; }
    public required ModelIndex ModelIndex { get; init; }
    public required ClipTextConfig TextEncoderConfig { get; init; }
    public required string TextEncoderWeights { get; init; }
    public required TokenizerFiles Tokenizer { get; init; }
    public required UNet2DConditionConfig UNetConfig { get; init; }
    public required string UNetWeights { get; init; }
    /// <summary>The VAE; null for a pixel-space pipeline (model_index.json has no vae, or "vae": [null, null]).</summary>
    public required AutoencoderKLConfig? VaeConfig { get; init; }
    public required string? VaeWeights { get; init; }

    /// <summary>A pixel-space pipeline: the UNet denoises images directly (Deja's own mini models).</summary>
    public bool IsPixelSpace => VaeConfig is null;
    public required DdimSchedulerConfig SchedulerConfig { get; init; }

    /// <summary>Component name → accepted (library, class) pairs of model_index.json.</summary>
    static readonly (string Name, string Library, string[] Classes)[] Required =
    [
        ("text_encoder", "transformers", ["CLIPTextModel"]),
        ("tokenizer", "transformers", ["CLIPTokenizer", "CLIPTokenizerFast"]),
        ("unet", "diffusers", ["UNet2DConditionModel"]),
        ("vae", "diffusers", ["AutoencoderKL"]),
        ("scheduler", "diffusers", DdimSchedulerConfig.SupportedClasses),
    ];

    /// <summary>
    /// Opens and validates a pipeline folder. <paramref name="variant"/> selects weight files named
    /// <c>*.{variant}.safetensors</c> (e.g. "fp16"), falling back to the plain names; without it the plain
    /// names are preferred and the fp16 variant is the fallback.
    /// </summary>
    public static PipelineFolder Open(string directory, string? variant = null)
    {
        var dir = Path.GetFullPath(directory);
        if (!System.IO.Directory.Exists(dir))
            throw Unusable(dir, ["the folder does not exist"]);
        var problems = new List<string>();

        var index = Load(problems, Path.Combine(dir, "model_index.json"), ModelIndex.Load);
        // No VAE named in model_index.json and no vae/ folder: a pixel-space pipeline.
        bool pixelSpace = index is not null && (!index.Components.TryGetValue("vae", out var vaeSpec) || vaeSpec.IsAbsent)
                          && !System.IO.Directory.Exists(Path.Combine(dir, "vae"));
        if (index is not null) CheckIndex(problems, index, pixelSpace);

        var textConfig = LoadConfig(problems, dir, "text_encoder", "config.json", ClipTextConfig.Load);
        var textWeights = FindWeights(problems, dir, "text_encoder", "model", variant);
        var tokenizer = FindTokenizer(problems, dir);
        var unetConfig = LoadConfig(problems, dir, "unet", "config.json", UNet2DConditionConfig.Load);
        var unetWeights = FindWeights(problems, dir, "unet", "diffusion_pytorch_model", variant);
        var vaeConfig = pixelSpace ? null : LoadConfig(problems, dir, "vae", "config.json", AutoencoderKLConfig.Load);
        var vaeWeights = pixelSpace ? null : FindWeights(problems, dir, "vae", "diffusion_pytorch_model", variant);
        var schedulerConfig = LoadConfig(problems, dir, "scheduler", "scheduler_config.json", DdimSchedulerConfig.Load);

        if (textConfig is not null && unetConfig is not null)
            foreach (var d in unetConfig.CrossAttentionDim.Distinct())
                if (d != textConfig.HiddenSize)
                    problems.Add($"{unetConfig.Source}: cross_attention_dim {d} does not match the text encoder's hidden_size {textConfig.HiddenSize} in {textConfig.Source}");
        if (vaeConfig is not null && unetConfig is not null
            && (unetConfig.InChannels != vaeConfig.LatentChannels || unetConfig.OutChannels != vaeConfig.LatentChannels))
            problems.Add($"{unetConfig.Source}: in_channels {unetConfig.InChannels} / out_channels {unetConfig.OutChannels} do not match the VAE's latent_channels {vaeConfig.LatentChannels} in {vaeConfig.Source}");

        foreach (var weights in new[] { textWeights, unetWeights, vaeWeights })
            if (weights is not null) CheckHeader(problems, weights);

        // Only a folder whose configs and headers are sound gets here; now refuse configs that describe
        // more model than their weights file holds, before anything is built from them.
        if (problems.Count == 0)
        {
            CheckSize(problems, textWeights!, CheckpointLayout.ClipTextItems(textConfig!), textConfig!.Source);
            CheckSize(problems, unetWeights!, CheckpointLayout.UNetItems(unetConfig!), unetConfig!.Source);
            if (vaeConfig is not null) CheckSize(problems, vaeWeights!, CheckpointLayout.VaeItems(vaeConfig), vaeConfig.Source);
        }

        if (problems.Count > 0) throw Unusable(dir, problems);
        return new PipelineFolder
        {
            Directory = dir,
            ModelIndex = index!,
            TextEncoderConfig = textConfig!,
            TextEncoderWeights = textWeights!,
            Tokenizer = tokenizer!,
            UNetConfig = unetConfig!,
            UNetWeights = unetWeights!,
            VaeConfig = vaeConfig,
            VaeWeights = vaeWeights,
            SchedulerConfig = schedulerConfig!,
        };
    }

    /// <summary>One message for all problems; paths inside the folder are shown relative to it.</summary>
    static DejaException Unusable(string dir, List<string> problems)
    {
        var inside = dir.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar;
        return new($"'{dir}' is not a usable Stable Diffusion pipeline folder ({problems.Count} problem{(problems.Count == 1 ? "" : "s")}): " +
                   string.Join("; ", problems.Select(p => p.Replace(inside, ""))));
    }

    static T? Load<T>(List<string> problems, string path, Func<string, T> load) where T : class
    {
        if (!File.Exists(path)) { problems.Add($"{Rel(path)} is missing"); return null; }
        try { return load(path); }
        catch (DejaException e) { problems.Add(e.Message); return null; }
    }

    static T? LoadConfig<T>(List<string> problems, string dir, string component, string file, Func<string, T> load) where T : DiffusersConfig
    {
        var folder = Path.Combine(dir, component);
        if (!System.IO.Directory.Exists(folder)) { problems.Add($"the {component}/ folder is missing"); return null; }
        var config = Load(problems, Path.Combine(folder, file), load);
        if (config is not null) problems.AddRange(config.Problems());
        return config;
    }

    static void CheckIndex(List<string> problems, ModelIndex index, bool pixelSpace)
    {
        foreach (var (name, library, classes) in Required)
        {
            if (pixelSpace && name == "vae") continue;
            if (!index.Components.TryGetValue(name, out var spec))
                problems.Add($"{index.Source}: no '{name}' component (a Stable Diffusion pipeline needs text_encoder, tokenizer, unet, vae and scheduler)");
            else if (spec.IsAbsent)
                problems.Add($"{index.Source}: component '{name}' is [null, null], but the pipeline needs it");
            else if (spec.Library != library || !classes.Contains(spec.ClassName))
                problems.Add($"{index.Source}: component '{name}' is {spec.Library}/{spec.ClassName}, which is not supported (supported: {library}/{string.Join(" or ", classes)})");
        }
    }

    /// <summary>Finds a component's safetensors weights, or says precisely why there are none.</summary>
    static string? FindWeights(List<string> problems, string dir, string component, string stem, string? variant)
    {
        var folder = Path.Combine(dir, component);
        if (!System.IO.Directory.Exists(folder)) return null; // already reported with the config
        string[] candidates = variant is null
            ? [$"{stem}.safetensors", $"{stem}.fp16.safetensors"]
            : [$"{stem}.{variant}.safetensors", $"{stem}.safetensors"];
        foreach (var c in candidates)
            if (File.Exists(Path.Combine(folder, c))) return Path.Combine(folder, c);

        var expected = $"{component}/{candidates[0]} (or {candidates[1]})";
        var files = System.IO.Directory.GetFiles(folder).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToList();
        var shardIndex = files.Where(f => f.EndsWith(".safetensors.index.json", StringComparison.Ordinal)).ToList();
        var pickles = files.Where(f => f.EndsWith(".bin", StringComparison.Ordinal) || f.EndsWith(".ckpt", StringComparison.Ordinal) || f.EndsWith(".pt", StringComparison.Ordinal)).ToList();
        var others = files.Where(f => f.EndsWith(".safetensors", StringComparison.Ordinal)).ToList();
        if (shardIndex.Count > 0)
            problems.Add($"{component}/: the weights are sharded ({string.Join(", ", shardIndex)}), which is not supported; expected a single file {expected}");
        else if (pickles.Count > 0)
            problems.Add($"{component}/: only PyTorch pickle weights found ({string.Join(", ", pickles)}); Deja reads safetensors only and expected {expected}. " +
                         "Download the repository's .safetensors files or convert the weights to safetensors");
        else if (others.Count > 0)
            problems.Add($"{component}/: no {expected}; found {string.Join(", ", others)} (pass that variant to choose it)");
        else
            problems.Add($"{component}/: the weights file is missing: expected {expected}");
        return null;
    }

    static TokenizerFiles? FindTokenizer(List<string> problems, string dir)
    {
        var folder = Path.Combine(dir, "tokenizer");
        if (!System.IO.Directory.Exists(folder)) { problems.Add("the tokenizer/ folder is missing"); return null; }
        string vocab = Path.Combine(folder, "vocab.json"), merges = Path.Combine(folder, "merges.txt");
        bool ok = true;
        foreach (var f in new[] { vocab, merges })
            if (!File.Exists(f))
            {
                ok = false;
                var fastOnly = File.Exists(Path.Combine(folder, "tokenizer.json")) ? " (tokenizer.json alone is not supported)" : "";
                problems.Add($"tokenizer/{Path.GetFileName(f)} is missing: the CLIP tokenizer needs vocab.json and merges.txt{fastOnly}");
            }
        if (!ok) return null;
        string? Optional(string name) => File.Exists(Path.Combine(folder, name)) ? Path.Combine(folder, name) : null;
        return new TokenizerFiles(folder, vocab, merges, Optional("tokenizer_config.json"), Optional("special_tokens_map.json"));
    }

    static void CheckSize(List<string> problems, string weights, IEnumerable<CheckpointLayout.Item> layout, string configSource)
    {
        using var file = SafeTensorsFile.Open(weights);
        if (ModelSize.Mismatch(layout, file, configSource) is { } problem) problems.Add(problem);
    }

    static void CheckHeader(List<string> problems, string weights)
    {
        try { using var _ = SafeTensorsFile.Open(weights); }
        catch (DejaException e) { problems.Add(e.Message); }
    }

    static string Rel(string path) => Path.GetFileName(Path.GetDirectoryName(path)) + "/" + Path.GetFileName(path);
}
