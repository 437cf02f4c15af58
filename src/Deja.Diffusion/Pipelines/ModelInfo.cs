using System.Buffers.Binary;
using System.Security.Cryptography;
using Deja.Diffusion.IO;

namespace Deja.Diffusion.Pipelines;

/// <summary>
/// The identity of a pipeline folder, for results that must say which model produced them: where it
/// was, what it is (pipeline class, prediction type) and a fingerprint of each weights file. Computing
/// it reads about 1 MB per file, so every command can afford it.
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

    /// <summary>16 hex digits naming the whole model: the three fingerprints and the prediction type.</summary>
    public string Id => Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(
        string.Join("\n", PredictionType, UNetFingerprint, TextEncoderFingerprint, VaeFingerprint))))[..16];

    public static ModelInfo Of(PipelineFolder folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        return new ModelInfo
        {
            Directory = folder.Directory,
            PipelineClass = folder.ModelIndex.ClassName,
            PredictionType = folder.SchedulerConfig.PredictionType,
            UNetFingerprint = Fingerprint(folder.UNetWeights),
            TextEncoderFingerprint = Fingerprint(folder.TextEncoderWeights),
            VaeFingerprint = folder.VaeWeights is null ? "none" : Fingerprint(folder.VaeWeights),
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

    const int SampleCount = 16, SampleBytes = 64 << 10;

    /// <summary>
    /// "sha256s:" + SHA-256 over the file length, the first 1 MiB (the safetensors header: names, shapes,
    /// offsets, and the first weights) and 16 blocks of 64 KiB spread evenly over the rest. Two different
    /// fine-tunes of one architecture share their header, but not the sampled weights; a file of at most
    /// 2 MiB is hashed whole. It is an identity check, not a protection against deliberate collisions.
    /// </summary>
    public static string Fingerprint(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        long length = file.Length;
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(len, length);
        sha.AppendData(len);
        var buffer = new byte[1 << 20];
        if (length <= 2 * buffer.Length)
        {
            int n;
            while ((n = file.Read(buffer)) > 0) sha.AppendData(buffer, 0, n);
        }
        else
        {
            Append(file, sha, buffer, 0, buffer.Length);
            long rest = length - buffer.Length - SampleBytes;
            for (int i = 0; i < SampleCount; i++)
                Append(file, sha, buffer, buffer.Length + rest * (i + 1) / SampleCount, SampleBytes);
        }
        return "sha256s:" + Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    static void Append(FileStream file, IncrementalHash sha, byte[] buffer, long position, int count)
    {
        file.Position = position;
        file.ReadExactly(buffer, 0, count);
        sha.AppendData(buffer, 0, count);
    }
}
