using System.Text.Json;
using System.Text.Json.Nodes;
using Deja.Memorization.Mitigation;
using Deja.Tensors;

namespace Deja.Memorization.Reporting;

/// <summary>One generation of a mitigate run: a row of <c>mitigate.jsonl</c> with its image file.</summary>
public sealed record MitigatedImage(int Index, int Generation, string Prompt, long Seed, string Method, string? ChangedPrompt,
    double? ScoreBefore, double? ScoreAfter, string ImagePath);

/// <summary>
/// A folder written by <c>deja mitigate</c> (<see cref="MitigationOutput"/>): <c>mitigate.jsonl</c> and
/// <c>images/</c>. A folder of <c>--method none</c> holds the unmitigated generations: the report uses
/// it as the "before" picture of the same prompt, generation and seed in the other folders.
/// </summary>
public sealed class MitigationFolder
{
    public required string Path { get; init; }
    public required string Method { get; init; }
    public required IReadOnlyList<MitigatedImage> Images { get; init; }

    public static bool Looks(string folder) => File.Exists(System.IO.Path.Combine(folder, MitigationOutput.RowsFile));

    public static MitigationFolder Read(string folder)
    {
        var rowsPath = System.IO.Path.Combine(folder, MitigationOutput.RowsFile);
        if (!File.Exists(rowsPath)) throw new DejaException($"{folder}: not a `deja mitigate` folder (no {MitigationOutput.RowsFile})");
        var images = new List<MitigatedImage>();
        int line = 0;
        foreach (var text in ReportFiles.ReadLines(rowsPath))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            string where = $"{rowsPath} line {line}";
            try
            {
                var row = JsonNode.Parse(text) as JsonObject ?? throw new InvalidDataException("expected a JSON object");
                string image = (string?)row["image"] ?? throw new InvalidDataException("missing \"image\"");
                // The image path is relative to the folder; anything reaching outside it is refused (a row is outside input).
                var full = System.IO.Path.GetFullPath(System.IO.Path.Combine(folder, image));
                if (System.IO.Path.IsPathRooted(image) || !full.StartsWith(System.IO.Path.TrimEndingDirectorySeparator(System.IO.Path.GetFullPath(folder)) + System.IO.Path.DirectorySeparatorChar, StringComparison.Ordinal))
                    throw new InvalidDataException($"\"image\" {image} is not inside the folder");
                if (!File.Exists(full)) throw new DejaException($"{where}: image {image} is missing");
                images.Add(new MitigatedImage(
                    (int?)row["index"] ?? throw new InvalidDataException("missing \"index\""),
                    (int?)row["generation"] ?? 0,
                    (string?)row["prompt"] ?? throw new InvalidDataException("missing \"prompt\""),
                    (long?)row["seed"] ?? 0,
                    (string?)row["method"] ?? throw new InvalidDataException("missing \"method\""),
                    (string?)row["changed_prompt"], (double?)row["score_before"], (double?)row["score_after"], full));
            }
            catch (Exception e) when (e is JsonException or InvalidDataException or FormatException or InvalidOperationException)
            {
                throw new DejaException($"{where}: not a `deja mitigate` row ({e.Message})", e);
            }
        }
        if (images.Count == 0) throw new DejaException($"{rowsPath}: no rows (empty file)");
        var methods = images.Select(i => i.Method).Distinct().ToList();
        if (methods.Count > 1) throw new DejaException($"{rowsPath}: rows of several methods ({string.Join(", ", methods)}); one folder is one run");
        return new MitigationFolder { Path = folder, Method = methods[0], Images = images };
    }
}
