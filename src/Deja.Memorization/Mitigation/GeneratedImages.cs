using System.Text.Json;
using System.Text.Json.Nodes;
using Deja.Diffusion.Images;
using Deja.Tensors;

namespace Deja.Memorization.Mitigation;

/// <summary>
/// The images of a `deja mitigate --out` folder, by caption and generation, for measuring them with
/// `deja replicate --images` (the same distances and thresholds as for fresh generations; the images are
/// the 8-bit PNGs, which moves a normalized L2 by at most 1/510). Refuses folders whose rows mix
/// models or methods, miss an image, or give captions different numbers of generations. Each caption's
/// prompt-level numbers (wall seconds, anisotropy before and after), which every generation's row repeats,
/// are read from its first row.
/// </summary>
public sealed class GeneratedImages
{
    readonly Dictionary<string, string[]> files = new(StringComparer.Ordinal);
    readonly Dictionary<string, PromptNumbers> numbers = new(StringComparer.Ordinal);
    readonly string folder;

    public IReadOnlyList<string> Captions { get; }
    public int Generations { get; }
    public int Size { get; }
    public string Method { get; }
    public string ModelId { get; }
    /// <summary>The rows' noise draws per prompt (parameters.noise.n), the n a guard's calibration must share; null if not recorded.</summary>
    public int? NoiseDraws { get; }
    /// <summary>The detector that scored each prompt before and after (parameters.scorer, e.g. "anisotropy") and its parameters; null if none.</summary>
    public string? Scorer { get; private init; }
    public JsonObject? ScorerParameters { get; private init; }

    GeneratedImages(string folder, List<string> captions, int generations, int size, string method, string modelId, int? noiseDraws)
    {
        (this.folder, Captions, Generations, Size, Method, ModelId, NoiseDraws) = (folder, captions, generations, size, method, modelId, noiseDraws);
    }

    /// <summary>A caption's wall seconds and anisotropy before/after, as its rows record them.</summary>
    public PromptNumbers Numbers(string caption) => numbers[caption];

    public static GeneratedImages Read(string folder)
    {
        string path = Path.Combine(folder, MitigationOutput.RowsFile);
        if (!File.Exists(path)) throw new DejaException($"--images: {folder} has no {MitigationOutput.RowsFile} (a `deja mitigate --out` folder)");
        var byCaption = new Dictionary<string, SortedDictionary<int, string>>(StringComparer.Ordinal);
        var order = new List<string>();
        var prompts = new Dictionary<string, PromptNumbers>(StringComparer.Ordinal);
        string? method = null, model = null;
        JsonObject? parameters = null;
        int line = 0;
        foreach (var text in File.ReadLines(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            JsonObject row;
            try { row = JsonNode.Parse(text) as JsonObject ?? throw new JsonException("not an object"); }
            catch (JsonException e) { throw new DejaException($"{path}:{line}: not a JSON row ({e.Message})"); }
            string Field(string name) => row[name] is JsonValue v && v.TryGetValue(out string? s) && s is not null ? s
                : throw new DejaException($"{path}:{line}: no string field \"{name}\"");
            string caption = Field("prompt"), m = Field("method"), id = Field("model_id"), image = Field("image");
            int generation = row["generation"] is JsonValue g && g.TryGetValue(out int gi) && gi >= 0 ? gi
                : throw new DejaException($"{path}:{line}: no generation number");
            if ((method ??= m) != m) throw new DejaException($"{path}:{line}: rows of methods {method} and {m} are mixed");
            if ((model ??= id) != id) throw new DejaException($"{path}:{line}: rows of models {model} and {id} are mixed");
            if (!byCaption.TryGetValue(caption, out var gens))
            {
                byCaption[caption] = gens = new();
                order.Add(caption);
                prompts[caption] = new PromptNumbers(Number(row, "seconds"), Number(row, "score_before"), Number(row, "score_after"));
                parameters ??= row["parameters"] as JsonObject;
            }
            gens[generation] = image;
        }
        if (order.Count == 0) throw new DejaException($"{path}: no rows");
        int n = byCaption[order[0]].Count;
        foreach (var caption in order)
        {
            var gens = byCaption[caption];
            if (gens.Count != n || gens.Keys.Max() != n - 1)
                throw new DejaException($"{path}: caption \"{caption}\" has generations {string.Join(", ", gens.Keys)}, the first caption 0..{n - 1}; finish the mitigate run first");
        }
        string firstFile = Path.Combine(folder, byCaption[order[0]][0]);
        if (!File.Exists(firstFile)) throw new DejaException($"--images: {firstFile} is missing (listed in {MitigationOutput.RowsFile})");
        int? draws = parameters?["noise"]?["n"] is JsonValue nv && nv.TryGetValue(out int nd) ? nd : null;
        var result = new GeneratedImages(folder, order, n, Png.Read(firstFile).Width, method!, model!, draws)
        {
            Scorer = parameters?["scorer"] is JsonValue sv && sv.TryGetValue(out string? scorer) ? scorer : null,
            ScorerParameters = parameters?["scorer_parameters"]?.DeepClone() as JsonObject,
        };
        foreach (var caption in order) (result.files[caption], result.numbers[caption]) = ([.. byCaption[caption].Values], prompts[caption]);
        return result;
    }

    static double? Number(JsonObject row, string name) => row[name] is JsonValue v && v.TryGetValue(out double d) && double.IsFinite(d) ? d : null;

    /// <summary>Generation <paramref name="generation"/> of <paramref name="caption"/> as [3, H, W] floats in [0, 1].</summary>
    public float[] Image(string caption, int generation)
    {
        string file = Path.Combine(folder, files[caption][generation]);
        if (!File.Exists(file)) throw new DejaException($"--images: {file} is missing (listed in {MitigationOutput.RowsFile})");
        var image = Png.Read(file);
        if (image.Width != Size || image.Height != Size) throw new DejaException($"--images: {file} is {image.Width}×{image.Height}, the others {Size}×{Size}");
        using var t = image.ToTensor01();
        return t.ToArray();
    }
}

/// <summary>One prompt's numbers in a mitigate folder: wall seconds, and its anisotropy score before and after (null: not recorded).</summary>
public sealed record PromptNumbers(double? Seconds, double? ScoreBefore, double? ScoreAfter);
