using System.Text.Json;
using System.Text.Json.Nodes;
using Deja.Diffusion.Images;
using Deja.Memorization.Evaluation;
using Deja.Memorization.Models;
using Deja.Tensors;

namespace Deja.Memorization.Mitigation;

/// <summary>
/// What `deja mitigate --out DIR` writes: `images/{index}-{generation}.png` and `mitigate.jsonl`, one row
/// per prompt and generation (method and parameters, the loss per iteration, whether the stop criterion
/// was met, the detector's score before and after, the image's path). A prompt's images are written
/// before its rows and its rows in one write flushed to disk, so a run stopped at any point (a kill mid-write
/// included) resumes after the last complete prompt; a run with other parameters, another model or another
/// prompt list is refused.
/// </summary>
public sealed class MitigationOutput
{
    public const string RowsFile = "mitigate.jsonl";
    public const string ImagesFolder = "images";

    readonly string folder;
    readonly JsonObject parameters;
    readonly IDiffusionModelView model;

    public MitigationOutput(string folder, IDiffusionModelView model, JsonObject parameters)
    {
        this.folder = folder; this.model = model; this.parameters = parameters;
        Directory.CreateDirectory(Path.Combine(folder, ImagesFolder));
    }

    public string RowsPath => Path.Combine(folder, RowsFile);

    /// <summary>
    /// The number of leading prompts already complete in an earlier run of the same command (0 for a new
    /// folder). Refuses rows of another model, method or parameters, or of other prompt texts. What a run
    /// stopped mid-write left is cleaned up so the resumed run appends after whole prompts only: a trailing
    /// partial line is cut off (<see cref="DroppedBytes"/>) and rows of a prompt that has not all its
    /// generations, or that follows one, are removed (<see cref="DroppedRows"/>); the prompt is generated
    /// again, with the same noise.
    /// </summary>
    public int CompletePrompts(IReadOnlyList<string> prompts, int generations)
    {
        DroppedBytes = 0; DroppedRows = 0;
        if (!File.Exists(RowsPath)) return 0;
        string text = File.ReadAllText(RowsPath);
        var lines = text.Split('\n').ToList();
        string last = lines[^1];
        lines.RemoveAt(lines.Count - 1); // the text after the last newline: empty when the file ends in one
        bool lastKept = false;
        if (last.Length > 0)
        {
            // A complete row missing only its newline (a hand-edited file) is kept; anything else is a write
            // cut short by a kill.
            if (ParseRow(last) is not null) { lines.Add(last); lastKept = true; }
            else DroppedBytes = System.Text.Encoding.UTF8.GetByteCount(last);
        }
        var counts = new Dictionary<int, int>();
        var indices = new List<int?>();
        for (int i = 0; i < lines.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(lines[i])) { indices.Add(null); continue; }
            string where = $"{RowsPath}:{i + 1}";
            var row = ParseRow(lines[i]) ?? throw new DejaException($"{where}: not a JSON row; move the folder away to start over");
            if ((string?)row["model_id"] != model.Id)
                throw new DejaException($"{where}: rows of model {(string?)row["model_id"]}, this run uses {model.Id} ({model.Name}); use another --out");
            if (!JsonNode.DeepEquals(row["parameters"], parameters))
                throw new DejaException($"{where}: rows written with other parameters ({row["parameters"]?.ToJsonString()}); use another --out, or the same options");
            int index = (int?)row["index"] ?? throw new DejaException($"{where}: no index");
            if (index < 0 || index >= prompts.Count || (string?)row["prompt"] != prompts[index])
                throw new DejaException($"{where}: prompt {index} is not the prompt list's prompt {index}; use another --out");
            counts[index] = counts.GetValueOrDefault(index) + 1;
            indices.Add(index);
        }
        int done = 0;
        while (counts.GetValueOrDefault(done) >= generations) done++;
        DroppedRows = indices.Count(i => i >= done);
        if (DroppedBytes > 0 || DroppedRows > 0 || lastKept)
        {
            var kept = lines.Where((_, i) => indices[i] is not { } index || index < done);
            AtomicFile.WriteAllText(RowsPath, string.Concat(kept.Select(l => l + "\n")));
        }
        return done;
    }

    /// <summary>Bytes of a trailing partial line that <see cref="CompletePrompts"/> cut off; 0 normally.</summary>
    public long DroppedBytes { get; private set; }

    /// <summary>Rows of unfinished prompts that <see cref="CompletePrompts"/> removed; 0 normally.</summary>
    public int DroppedRows { get; private set; }

    static JsonObject? ParseRow(string text)
    {
        try { return JsonNode.Parse(text) as JsonObject; }
        catch (JsonException) { return null; }
    }

    /// <summary>Writes the result's images, then its rows in one write flushed to disk, so a kill loses at
    /// most this prompt. Returns the rows.</summary>
    public IReadOnlyList<JsonObject> Write(MitigationResult r)
    {
        var rows = new List<JsonObject>();
        for (int j = 0; j < r.Images.Count; j++)
        {
            string name = $"{r.Index:D5}-{j}.png";
            string rel = Path.Combine(ImagesFolder, name);
            WritePng(Path.Combine(folder, rel), r.Images[j], r.ImageHeight, r.ImageWidth);
            rows.Add(Row(r, j, rel));
        }
        var bytes = System.Text.Encoding.UTF8.GetBytes(string.Concat(rows.Select(o => o.ToJsonString() + "\n")));
        using (var stream = new FileStream(RowsPath, FileMode.Append, FileAccess.Write))
        {
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
        }
        return rows;
    }

    JsonObject Row(MitigationResult r, int generation, string image) => new()
    {
        ["index"] = r.Index, ["generation"] = generation, ["prompt"] = r.Prompt, ["seed"] = r.Seed,
        ["method"] = (string?)parameters["method"], ["changed_prompt"] = r.ChangedPrompt,
        ["losses"] = new JsonArray([.. r.Losses.Select(l => (JsonNode?)JsonValue.Create(l))]),
        ["stop_criterion_met"] = r.StopCriterionMet, ["updates"] = r.Updates,
        ["score_before"] = Finite(r.ScoreBefore), ["score_after"] = Finite(r.ScoreAfter),
        ["truncated"] = r.Truncated, ["image"] = image.Replace('\\', '/'), ["seconds"] = Math.Round(r.Seconds, 3),
        ["model"] = model.Name, ["model_id"] = model.Id, ["deja_version"] = DejaVersion.Text,
        ["parameters"] = parameters.DeepClone(),
    };

    static JsonNode? Finite(double? v) => v is { } x && double.IsFinite(x) ? JsonValue.Create(x) : null;

    /// <summary>An image in [−1, 1] ([3, H, W] floats) as an 8-bit PNG, written to a temporary name first.</summary>
    static void WritePng(string path, float[] pixels, int height, int width)
    {
        var unit = new float[pixels.Length];
        for (int i = 0; i < unit.Length; i++) unit[i] = pixels[i] / 2 + 0.5f;
        using var t = Tensor.FromArray(unit, pixels.Length / (height * width), height, width);
        string tmp = path + ".tmp";
        Png.Write(tmp, Image.FromTensor01(t));
        File.Move(tmp, path, overwrite: true);
    }
}
