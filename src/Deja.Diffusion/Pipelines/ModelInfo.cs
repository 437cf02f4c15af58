using System.Security.Cryptography;
using Deja.Diffusion.IO;

namespace Deja.Diffusion.Pipelines;

/// <summary>
/// The identity of a pipeline folder, for results that must say which model produced them: where it
/// was, what it is (pipeline class, prediction type) and the content hash of each weights file
/// (<see cref="SafeTensorsFile.ContentHash"/>: every tensor's name, dtype, shape and bytes). A damaged or
/// edited weight changes the id, so rows scored with one file are never mixed with rows of another.
/// </summary>
public sealed record ModelInfo
{
    public required string Directory { get; init; }
    /// <summary>model_index.json's _class_name, e.g. StableDiffusionPipeline.</summary>
    public required string PipelineClass { get; init; }
    /// <summary>The scheduler config's prediction_type ("epsilon" or "v_prediction").</summary>
    public required string PredictionType { get; init; }
    public required string UNetFingerprint { get; init; }
    public required string TextEncoderFingerprint { get; init; }
    public required string VaeFingerprint { get; init; }
    public required long UNetBytes { get; init; }

    /// <summary>32 hex digits naming the whole model: a hash of the three content fingerprints and the prediction type.</summary>
    public string Id => Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(
        string.Join("\n", PredictionType, UNetFingerprint, TextEncoderFingerprint, VaeFingerprint))))[..32];

    /// <summary>
    /// Whether <paramref name="id"/> has the form of the ids Deja gave pipelines before content hashing
    /// (16 hex digits over sampled bytes of the files, which a damaged file could keep). Such an id cannot
    /// be compared with a current one: the same weights get a different id now.
    /// </summary>
    public static bool IsSampledHashId(string id) =>
        id.Length == 16 && id.All(char.IsAsciiHexDigitLower);

    /// <summary>The identity of a folder whose weights were not loaded: each weights file is hashed in full.</summary>
    public static ModelInfo Of(PipelineFolder folder) => Of(folder, new WeightsHashes());

    /// <summary>The identity of a folder from the content hashes its load recorded (files it did not load are hashed now).</summary>
    public static ModelInfo Of(PipelineFolder folder, WeightsHashes hashes)
    {
        ArgumentNullException.ThrowIfNull(folder);
        ArgumentNullException.ThrowIfNull(hashes);
        return new ModelInfo
        {
            Directory = folder.Directory,
            PipelineClass = folder.ModelIndex.ClassName,
            PredictionType = folder.SchedulerConfig.PredictionType,
            UNetFingerprint = Fingerprint(hashes.Of(folder.UNetWeights)),
            TextEncoderFingerprint = Fingerprint(hashes.Of(folder.TextEncoderWeights)),
            VaeFingerprint = folder.VaeWeights is null ? "none" : Fingerprint(hashes.Of(folder.VaeWeights)),
            UNetBytes = new FileInfo(folder.UNetWeights).Length,
        };
    }

    /// <summary>String pairs for a results file's metadata (keys prefixed "model_").</summary>
    public IReadOnlyDictionary<string, string> ToMetadata() => new Dictionary<string, string>
    {
        ["model_id"] = Id,
        ["model_dir"] = Directory,
        ["model_class"] = PipelineClass,
        ["model_prediction_type"] = PredictionType,
        ["model_unet"] = UNetFingerprint,
        ["model_text_encoder"] = TextEncoderFingerprint,
        ["model_vae"] = VaeFingerprint,
    };

    /// <summary>"xxh3c:" and 16 hex digits of a safetensors content hash.</summary>
    public static string Fingerprint(ulong contentHash) => "xxh3c:" + contentHash.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);
}
