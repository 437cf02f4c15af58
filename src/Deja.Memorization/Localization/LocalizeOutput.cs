using System.Text.Json.Nodes;
using Deja.Diffusion.Images;
using Deja.Diffusion.IO;
using Deja.Memorization.Evaluation;
using Deja.Tensors;

namespace Deja.Memorization.Localization;

/// <summary>
/// The folder `deja localize` writes, resumable like a detect score file:
/// <list type="bullet">
/// <item><c>localize.jsonl</c> — one score row per prompt (method "localize"; scores = each map's spatial
/// mean over the prompt's generations, so `deja eval` can use a map as a detector), plus
/// "generations" (the seeds mapped) and "kind" (benchmark label, when known);</item>
/// <item><c>parts/{index}.safetensors</c> — that prompt's maps, written before its row, so a row always has its maps;</item>
/// <item><c>png/{index}_{generation}_{map}.png</c> — each map over its generated image, with a colour bar;</item>
/// <item><c>maps.safetensors</c> — every map of every row, float32 [H, W] named <c>{index}/{generation}/{map}</c>,
/// assembled from the parts by <see cref="Finish"/> (atomically: a half-written file never has the final name).</item>
/// </list>
/// </summary>
public sealed class LocalizeOutput : IDisposable
{
    public const string RowsFile = "localize.jsonl", MapsFile = "maps.safetensors", PartsDir = "parts", PngDir = "png";

    readonly ScoresWriter writer;
    readonly string modelJson, paramsJson;
    public string Directory { get; }
    public bool WritePngs { get; init; } = true;

    public LocalizeOutput(string directory, JsonObject model, JsonObject parameters)
    {
        Directory = directory;
        System.IO.Directory.CreateDirectory(Path.Combine(directory, PartsDir));
        modelJson = model.ToJsonString();
        paramsJson = parameters.ToJsonString();
        writer = ScoresFile.OpenForAppend(Path.Combine(directory, RowsFile), (string)model["id"]!, "localize", paramsJson);
    }

    /// <summary>(index, prompt) pairs already mapped (with their parts present): skip them on resume.</summary>
    public bool IsDone(int index, string prompt) => writer.Done.Contains((index, prompt)) && File.Exists(PartPath(index));

    public int ExistingRows => writer.ExistingRows;

    string PartPath(int index) => Path.Combine(Directory, PartsDir, $"{index:00000}.safetensors");

    public static string TensorName(int index, long generation, string map) => $"{index}/{generation}/{map}";

    public void Write(LocalizeResult result)
    {
        var job = result.Job;
        var tensors = new List<(string, Tensor)>();
        try
        {
            foreach (var map in result.Maps)
                for (int g = 0; g < job.Seeds.Count; g++)
                    tensors.Add((TensorName(job.Index, job.Seeds[g], map.Name), Tensor.FromArray(map.Values[g], map.Height, map.Width)));
            var part = PartPath(job.Index);
            SafeTensorsWriter.Write(part + ".tmp", tensors, new Dictionary<string, string> { ["format"] = "pt" });
            File.Move(part + ".tmp", part, overwrite: true);
        }
        finally { foreach (var (_, t) in tensors) t.Dispose(); }

        if (WritePngs && result.Images is not null)
        {
            var pngDir = Path.Combine(Directory, PngDir);
            System.IO.Directory.CreateDirectory(pngDir);
            for (int g = 0; g < job.Seeds.Count; g++)
                foreach (var map in result.Maps)
                    Png.Write(Path.Combine(pngDir, $"{job.Index:00000}_{job.Seeds[g]}_{map.Name}.png"),
                        Heatmap.Render(result.Images[g], result.ImageChannels, result.ImageHeight, result.ImageWidth, map.Values[g], map.Height, map.Width));
        }

        var scores = new OrderedDictionary<string, double>();
        foreach (var map in result.Maps) scores[map.Name] = map.Mean;
        var extra = new JsonObject { ["generations"] = new JsonArray([.. job.Seeds.Select(s => (JsonNode)s)]) };
        if (job.Kind is not null) extra["kind"] = job.Kind;
        writer.AppendBatch([new ScoreRow
        {
            Index = job.Index, Prompt = job.Prompt, Method = "localize", Scores = scores, Tokens = result.Tokens, Truncated = result.Truncated,
            ParamsJson = paramsJson, ModelJson = modelJson, ExtraJson = extra.ToJsonString(),
        }]);
    }

    /// <summary>
    /// Assembles maps.safetensors from the parts of every row in localize.jsonl (temp file, then
    /// rename); returns the number of tensors.
    /// </summary>
    public int Finish()
    {
        var rows = ScoresFile.Read(Path.Combine(Directory, RowsFile));
        var tensors = new List<(string, Tensor)>();
        try
        {
            foreach (var row in rows.OrderBy(r => r.Index))
            {
                var part = PartPath(row.Index);
                if (!File.Exists(part)) throw new DejaException($"localize: {RowsFile} has prompt {row.Index} but {part} is missing; delete that row and run again");
                using var file = SafeTensorsFile.Open(part);
                foreach (var name in file.Names) tensors.Add((name, file.ReadTensor(name)));
            }
            var target = Path.Combine(Directory, MapsFile);
            SafeTensorsWriter.Write(target + ".tmp", tensors, new Dictionary<string, string> { ["format"] = "pt", ["rows"] = rows.Count.ToString() });
            File.Move(target + ".tmp", target, overwrite: true);
            WriteDetectionSplit(rows);
            return tensors.Count;
        }
        finally { foreach (var (_, t) in tensors) t.Dispose(); }
    }

    public const string MemorizedRows = "memorized.localize.jsonl", NonMemorizedRows = "nonmemorized.localize.jsonl";

    /// <summary>
    /// Benchmark runs (rows with a "kind"): the rows split into memorized (every planted kind) and
    /// non-memorized (held-out) score files, so that `deja eval --positives … --negatives …` rates each
    /// map's spatial mean as a detector (Kim &amp; Lee's second table).
    /// </summary>
    void WriteDetectionSplit(IReadOnlyList<ScoreRow> rows)
    {
        string? Kind(ScoreRow r) => JsonText.StringMember(r.ExtraJson, "kind");
        if (rows.Count == 0 || rows.Any(r => Kind(r) is null)) return;
        foreach (var (file, memorized) in new[] { (MemorizedRows, true), (NonMemorizedRows, false) })
        {
            var path = Path.Combine(Directory, file);
            File.WriteAllBytes(path + ".tmp", ScoresFile.Serialize(rows.Where(r => (Kind(r) != "heldout") == memorized).OrderBy(r => r.Index)));
            File.Move(path + ".tmp", path, overwrite: true);
        }
    }

    public void Dispose() => writer.Dispose();
}
