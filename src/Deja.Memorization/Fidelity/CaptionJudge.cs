using System.Text.Json.Nodes;
using Deja.Diffusion.IO;
using Deja.Tensors;
using Deja.Tensors.Nn;

namespace Deja.Memorization.Fidelity;

/// <summary>
/// A trained attribute judge, as saved in a folder (`data/models/deja-judge`): config.json (architecture and
/// label vocabularies), model.safetensors (weights; provenance in its metadata) and README.md. The entry
/// point of caption fidelity: <see cref="Fidelity(string, float[])"/>.
/// </summary>
public sealed class CaptionJudge
{
    public const string ConfigFile = "config.json", WeightsFile = "model.safetensors", ReadmeFile = "README.md";

    /// <summary>Images judged per forward pass.</summary>
    const int Batch = 256;

    public JudgeNetwork Network { get; }
    public JudgeConfig Config => Network.Config;
    /// <summary>The folder it was loaded from (null: made in memory).</summary>
    public string? Directory { get; }
    /// <summary>The training provenance stored in the weights' metadata.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    public CaptionJudge(JudgeNetwork network, string? directory = null, IReadOnlyDictionary<string, string>? metadata = null)
    {
        Network = network;
        network.Eval();
        Directory = directory;
        Metadata = metadata ?? new Dictionary<string, string>();
    }

    public int ImageSize => Config.ImageSize;

    /// <summary>Loads a judge folder; a missing or malformed file is a <see cref="DejaException"/> naming it.</summary>
    public static CaptionJudge Load(string directory)
    {
        if (!System.IO.Directory.Exists(directory)) throw new DejaException($"--judge {directory}: no such folder");
        var configPath = Path.Combine(directory, ConfigFile);
        var weightsPath = Path.Combine(directory, WeightsFile);
        if (!File.Exists(configPath)) throw new DejaException($"--judge {directory}: no {ConfigFile} (not a judge folder made by deja judge train)");
        if (!File.Exists(weightsPath)) throw new DejaException($"--judge {directory}: no {WeightsFile}");
        JsonNode? json;
        try { json = JsonNode.Parse(File.ReadAllText(configPath)); }
        catch (System.Text.Json.JsonException e) { throw new DejaException($"{configPath}: not JSON ({e.Message})", e); }
        var config = JudgeConfig.FromJson(json, configPath);
        JudgeNetwork network;
        using (Init.Skip()) network = new JudgeNetwork(config);
        try
        {
            using var file = SafeTensorsFile.Open(weightsPath);
            file.LoadModule(network);
            return new CaptionJudge(network, directory, file.Metadata);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or ArgumentException)
        {
            throw new DejaException($"{weightsPath}: {e.Message}", e);
        }
    }

    /// <summary>
    /// Writes a judge folder: into a staging folder first, moved into place complete (a crash never leaves a
    /// folder that looks like a judge and is not). Weights as F16 (half the size; <paramref name="dtype"/>
    /// F32 to keep full precision) with <paramref name="metadata"/> (provenance) in the header.
    /// </summary>
    public static void Save(JudgeNetwork network, string directory, IReadOnlyDictionary<string, string> metadata, string readme, SafeTensorsDType dtype = SafeTensorsDType.F16)
    {
        var target = Path.GetFullPath(directory);
        var parent = Path.GetDirectoryName(target)!;
        System.IO.Directory.CreateDirectory(parent);
        var staging = Path.Combine(parent, $".{Path.GetFileName(target)}.tmp-{Environment.ProcessId}");
        if (System.IO.Directory.Exists(staging)) System.IO.Directory.Delete(staging, true);
        System.IO.Directory.CreateDirectory(staging);
        File.WriteAllText(Path.Combine(staging, ConfigFile), network.Config.ToJson().ToJsonString(new() { WriteIndented = true }) + "\n");
        var meta = new Dictionary<string, string>(metadata) { ["format"] = "pt" };
        SafeTensorsWriter.Write(Path.Combine(staging, WeightsFile), network.StateDict().Select(kv => (kv.Key, kv.Value)), meta, dtype);
        File.WriteAllText(Path.Combine(staging, ReadmeFile), readme);
        // Replace the judge's own files only: whatever else the folder holds (a training log) stays.
        System.IO.Directory.CreateDirectory(target);
        foreach (var name in new[] { ReadmeFile, WeightsFile, ConfigFile })
            File.Move(Path.Combine(staging, name), Path.Combine(target, name), overwrite: true);
        System.IO.Directory.Delete(staging, true);
    }

    /// <summary>What the judge reads in each image ([3·S·S] floats in [−1, 1], deja-mini's pipeline output; values outside are clamped).</summary>
    public IReadOnlyList<JudgePrediction> Predict(IReadOnlyList<float[]> images)
    {
        int s = ImageSize, per = 3 * s * s;
        for (int i = 0; i < images.Count; i++)
            if (images[i].Length != per)
                throw new DejaException($"judge: image {i} has {images[i].Length} values; the judge reads 3×{s}×{s} = {per} (RGB in [−1, 1], channels first)");
        var results = new List<JudgePrediction>(images.Count);
        using var _ = GradMode.NoGrad();
        for (int start = 0; start < images.Count; start += Batch)
        {
            int n = Math.Min(Batch, images.Count - start);
            var pixels = new float[n * per];
            for (int i = 0; i < n; i++)
            {
                var src = images[start + i];
                for (int k = 0; k < per; k++) pixels[i * per + k] = float.IsNaN(src[k]) ? 0 : Math.Clamp(src[k], -1f, 1f);
            }
            using var scope = TensorScope.Enter();
            var (cells, background) = Network.Forward(Tensor.FromArray(pixels, n, 3, s, s));
            results.AddRange(Decode(cells.ToArray(), background.ToArray(), n));
        }
        return results;
    }

    /// <summary>Logits → readings: the most likely value of each head.</summary>
    public static IEnumerable<JudgePrediction> Decode(float[] cells, float[] background, int n)
    {
        string[] colours = JudgeConfig.Colours, shapes = JudgeConfig.Shapes, sizes = JudgeConfig.Sizes, textures = JudgeConfig.Textures;
        int kc = JudgeConfig.CellOutputs, kb = JudgeConfig.BackgroundOutputs;
        int nc = colours.Length, ns = shapes.Length, nz = sizes.Length;
        for (int i = 0; i < n; i++)
        {
            var readings = new CellReading[9];
            for (int c = 0; c < 9; c++)
            {
                var row = cells.AsSpan((i * 9 + c) * kc, kc);
                readings[c] = new CellReading(ArgMax(row[..2]) == 1, colours[ArgMax(row.Slice(2, nc))], shapes[ArgMax(row.Slice(2 + nc, ns))], sizes[ArgMax(row.Slice(2 + nc + ns, nz))]);
            }
            var b = background.AsSpan(i * kb, kb);
            yield return new JudgePrediction(readings, colours[ArgMax(b[..nc])], textures[ArgMax(b[nc..])]);
        }
    }

    static int ArgMax(ReadOnlySpan<float> x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    /// <summary>
    /// Caption fidelity of one image: the fraction of the caption's attributes the judge finds, with the
    /// verdict on each (<see cref="FidelityVerdict"/>). The caption must be of synth's grammar (else a
    /// <see cref="DejaException"/> naming it); the image is [3·S·S] in [−1, 1].
    /// </summary>
    public FidelityVerdict Fidelity(string caption, float[] image) => Fidelity([(caption, image)])[0];

    /// <summary>Fidelity of many (caption, image) pairs, the images judged in batches.</summary>
    public IReadOnlyList<FidelityVerdict> Fidelity(IReadOnlyList<(string Caption, float[] Image)> items)
    {
        var captions = items.Select(x => CaptionAttributes.Parse(x.Caption)).ToList(); // refuse a bad caption before any work
        var predictions = Predict([.. items.Select(x => x.Image)]);
        return [.. captions.Select((c, i) => FidelityVerdict.Judge(c, predictions[i], ImageSize))];
    }
}
