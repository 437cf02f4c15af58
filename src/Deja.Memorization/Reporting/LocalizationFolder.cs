using System.Text.Json.Nodes;
using Deja.Diffusion.IO;
using Deja.Memorization.Evaluation;
using Deja.Memorization.Localization;
using Deja.Tensors;

namespace Deja.Memorization.Reporting;

/// <summary>One prompt of a localize folder: its row, the seeds it mapped and (benchmark runs) its kind.</summary>
public sealed record LocalizedPrompt(ScoreRow Row, IReadOnlyList<long> Seeds, string? Kind);

/// <summary>
/// A folder written by <c>deja localize</c> (<see cref="LocalizeOutput"/>), as the report reads it: the
/// rows of <c>localize.jsonl</c> and the heatmap PNGs in <c>png/</c> (each map drawn over its generation).
/// </summary>
public sealed class LocalizationFolder
{
    public required string Path { get; init; }
    public required IReadOnlyList<LocalizedPrompt> Prompts { get; init; }
    /// <summary>The map names, in the rows' column order.</summary>
    public required IReadOnlyList<string> Maps { get; init; }

    public static bool Looks(string folder) => File.Exists(System.IO.Path.Combine(folder, LocalizeOutput.RowsFile));

    public static LocalizationFolder Read(string folder)
    {
        var rowsPath = System.IO.Path.Combine(folder, LocalizeOutput.RowsFile);
        if (!File.Exists(rowsPath)) throw new DejaException($"{folder}: not a `deja localize` folder (no {LocalizeOutput.RowsFile})");
        var rows = ScoresFile.Read(rowsPath);
        if (rows.Count == 0) throw new DejaException($"{rowsPath}: no rows (empty file)");
        var prompts = rows.OrderBy(r => r.Index).Select(r =>
        {
            var extra = JsonNode.Parse(r.ExtraJson) as JsonObject;
            var seeds = (extra?["generations"] as JsonArray)?.Select(s => (long)s!).ToList() ?? [];
            return new LocalizedPrompt(r, seeds, (string?)extra?["kind"]);
        }).ToList();
        var maps = rows.SelectMany(r => r.Scores.Keys).Distinct().ToList();
        return new LocalizationFolder { Path = folder, Prompts = prompts, Maps = maps };
    }

    /// <summary>The PNG that localize drew for one prompt, seed and map, or null when the folder has none (run without PNGs).</summary>
    public string? Png(int index, long seed, string map)
    {
        var path = System.IO.Path.Combine(Path, LocalizeOutput.PngDir, $"{index:00000}_{seed}_{map}.png");
        return File.Exists(path) ? path : null;
    }

    /// <summary>
    /// The heatmap of one prompt, seed and map as PNG bytes: localize's own drawing over the generation when
    /// the folder has it, else (a `--no-png` run) the map alone, drawn the same way from the prompt's part
    /// file; null when neither exists. <paramref name="overImage"/> says which.
    /// </summary>
    public byte[]? HeatmapPng(int index, long seed, string map, out bool overImage)
    {
        overImage = true;
        if (Png(index, seed, map) is { } png) return ReportFiles.ReadBytes(png);
        overImage = false;
        var part = System.IO.Path.Combine(Path, LocalizeOutput.PartsDir, $"{index:00000}.safetensors");
        if (!File.Exists(part)) return null;
        using var file = SafeTensorsFile.Open(part);
        string name = LocalizeOutput.TensorName(index, seed, map);
        if (!file.Contains(name)) return null;
        using var tensor = file.ReadTensor(name);
        if (tensor.Shape.Length != 2) throw new DejaException($"{part}: map {name} has shape [{string.Join(", ", tensor.Shape)}], not [H, W]");
        var image = Heatmap.Render(null, 1, tensor.Shape[0], tensor.Shape[1], tensor.ToArray(), tensor.Shape[0], tensor.Shape[1]);
        using var buffer = new MemoryStream();
        Diffusion.Images.Png.Write(buffer, image);
        return buffer.ToArray();
    }
}
