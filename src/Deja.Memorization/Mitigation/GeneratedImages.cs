using System.Text.Json.Nodes;
using Deja.Diffusion.Images;
using Deja.Tensors;

namespace Deja.Memorization.Mitigation;

/// <summary>
/// The images of a `deja mitigate --out` folder, by caption and generation, for measuring them with
/// `deja replicate --images` (the same distances and thresholds as for fresh generations; the images are
/// the 8-bit PNGs, which moves a normalized L2 by at most 1/510). The rows are read by
/// <see cref="MitigationRows"/>; also refused are folders whose rows mix models or give captions different
/// numbers of generations. Each caption's prompt-level numbers (wall seconds, anisotropy before and
/// after), which every generation's row repeats, are read from its first row.
/// </summary>
public sealed class GeneratedImages
{
    readonly Dictionary<string, string[]> files = new(StringComparer.Ordinal);
    readonly Dictionary<string, PromptNumbers> numbers = new(StringComparer.Ordinal);

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

    GeneratedImages(List<string> captions, int generations, int size, string method, string modelId, int? noiseDraws)
    {
        (Captions, Generations, Size, Method, ModelId, NoiseDraws) = (captions, generations, size, method, modelId, noiseDraws);
    }

    /// <summary>A caption's wall seconds and anisotropy before/after, as its rows record them.</summary>
    public PromptNumbers Numbers(string caption) => numbers[caption];

    public static GeneratedImages Read(string folder)
    {
        var rows = MitigationRows.Read(folder);
        string path = Path.Combine(folder, MitigationOutput.RowsFile);
        var byCaption = new Dictionary<string, SortedDictionary<int, string>>(StringComparer.Ordinal);
        var prompts = new Dictionary<string, PromptNumbers>(StringComparer.Ordinal);
        var order = new List<string>();
        string? model = rows[0].ModelId;
        foreach (var row in rows)
        {
            if (row.ModelId != model) throw new DejaException($"{path}: rows of models {model} and {row.ModelId} are mixed; one folder is one run");
            if (!byCaption.TryGetValue(row.Prompt, out var gens))
            {
                byCaption[row.Prompt] = gens = new();
                order.Add(row.Prompt);
                prompts[row.Prompt] = new PromptNumbers(row.Seconds, row.ScoreBefore, row.ScoreAfter);
            }
            gens[row.Generation] = row.ImagePath;
        }
        int n = byCaption[order[0]].Count;
        foreach (var caption in order)
        {
            var gens = byCaption[caption];
            if (gens.Count != n || gens.Keys.Max() != n - 1)
                throw new DejaException($"{path}: caption \"{caption}\" has generations {string.Join(", ", gens.Keys)}, the first caption 0..{n - 1}; finish the mitigate run first");
        }
        var parameters = rows[0].Parameters;
        int? draws = parameters?["noise"]?["n"] is JsonValue nv && nv.TryGetValue(out int nd) ? nd : null;
        var result = new GeneratedImages(order, n, Png.Read(byCaption[order[0]][0]).Width, rows[0].Method, model ?? "", draws)
        {
            Scorer = parameters?["scorer"] is JsonValue sv && sv.TryGetValue(out string? scorer) ? scorer : null,
            ScorerParameters = parameters?["scorer_parameters"]?.DeepClone() as JsonObject,
        };
        foreach (var caption in order) (result.files[caption], result.numbers[caption]) = ([.. byCaption[caption].Values], prompts[caption]);
        return result;
    }

    /// <summary>Generation <paramref name="generation"/> of <paramref name="caption"/> as [3, H, W] floats in [0, 1].</summary>
    public float[] Image(string caption, int generation)
    {
        string file = files[caption][generation];
        if (!File.Exists(file)) throw new DejaException($"--images: {file} is missing (listed in {MitigationOutput.RowsFile})");
        var image = Png.Read(file);
        if (image.Width != Size || image.Height != Size) throw new DejaException($"--images: {file} is {image.Width}×{image.Height}, the others {Size}×{Size}");
        using var t = image.ToTensor01();
        return t.ToArray();
    }
}

/// <summary>One prompt's numbers in a mitigate folder: wall seconds, and its anisotropy score before and after (null: not recorded).</summary>
public sealed record PromptNumbers(double? Seconds, double? ScoreBefore, double? ScoreAfter);
