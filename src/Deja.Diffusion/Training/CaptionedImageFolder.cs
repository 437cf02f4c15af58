using System.Text;
using System.Text.Json;
using Deja.Diffusion.Images;
using Deja.Tensors;

namespace Deja.Diffusion.Training;

/// <summary>
/// A captioned image folder as `deja train` reads it: captions.jsonl with one row per image,
/// {"file": "images/0001.png", "caption": "...", "repeats": 50} ("repeats" optional, default 1: how many
/// times the image occurs in the training data), PNG files relative to the folder. Every problem is
/// counted: without <c>skipBad</c> any problem is an error listing the counts and the first few cases;
/// with it, bad rows are left out and <see cref="Skipped"/> says how many and why.
/// </summary>
public sealed class CaptionedImageFolder
{
    public const string CaptionsFile = "captions.jsonl";

    public string Directory { get; }
    public IReadOnlyList<TrainingExample> Examples { get; }
    public IReadOnlyList<string> Files { get; }
    public IReadOnlyList<string> Skipped { get; }
    public int Size { get; }

    CaptionedImageFolder(string dir, List<TrainingExample> examples, List<string> files, List<string> skipped, int size)
    {
        Directory = dir; Examples = examples; Files = files; Skipped = skipped; Size = size;
    }

    /// <param name="imageSize">Every image must be this many pixels square (the model's sample size).</param>
    public static CaptionedImageFolder Load(string dir, int imageSize, bool skipBad = false)
    {
        if (!System.IO.Directory.Exists(dir)) throw new DejaException($"dataset folder '{dir}' does not exist");
        var captionsPath = Path.Combine(dir, CaptionsFile);
        if (!File.Exists(captionsPath)) throw new DejaException($"dataset folder '{dir}' has no {CaptionsFile}");
        var problems = new Dictionary<string, List<string>>();
        void Problem(string kind, string what) { if (!problems.TryGetValue(kind, out var l)) problems[kind] = l = []; l.Add(what); }
        var examples = new List<TrainingExample>(); var files = new List<string>();
        var referenced = new HashSet<string>();
        int lineNumber = 0;
        foreach (var line in File.ReadLines(captionsPath, new UTF8Encoding(false, true)))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            string file, caption; int repeats = 1;
            try
            {
                using var doc = JsonDocument.Parse(line);
                var root = doc.RootElement;
                file = root.TryGetProperty("file", out var f) && f.ValueKind == JsonValueKind.String ? f.GetString()! : throw new FormatException("no \"file\"");
                caption = root.TryGetProperty("caption", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString()! : throw new FormatException("no \"caption\"");
                if (root.TryGetProperty("repeats", out var r)) repeats = r.GetInt32();
                if (repeats < 1) throw new FormatException($"repeats {repeats} < 1");
            }
            catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
            {
                Problem("malformed rows", $"line {lineNumber}: {e.Message}");
                continue;
            }
            var path = Path.Combine(dir, file);
            referenced.Add(Path.GetFullPath(path));
            if (!File.Exists(path)) { Problem("missing images", $"line {lineNumber}: {file}"); continue; }
            Image image;
            try { image = Png.Read(path); }
            catch (DejaException e) { Problem("unreadable PNGs", $"{file}: {e.Message}"); continue; }
            if (image.Width != imageSize || image.Height != imageSize)
            {
                Problem("images of the wrong size", $"{file}: {image.Width}×{image.Height}, the model needs {imageSize}×{imageSize}");
                continue;
            }
            using var t = image.ToTensor01();
            examples.Add(new TrainingExample(t.ToArray().Select(v => v * 2 - 1).ToArray(), caption, repeats));
            files.Add(file);
        }
        var imagesDir = Path.Combine(dir, "images");
        if (System.IO.Directory.Exists(imagesDir))
            foreach (var png in System.IO.Directory.EnumerateFiles(imagesDir, "*.png"))
                if (!referenced.Contains(Path.GetFullPath(png)))
                    Problem("images without a caption", Path.GetRelativePath(dir, png));
        var summary = problems.Select(p => $"{p.Value.Count} {p.Key} (e.g. {string.Join("; ", p.Value.Take(3))})").ToList();
        bool fatal = problems.Keys.Any(k => k != "images without a caption");
        if (fatal && !skipBad)
            throw new DejaException($"dataset '{dir}': " + string.Join("; ", summary) + " — fix the folder or pass --skip-bad to leave these out");
        if (examples.Count == 0) throw new DejaException($"dataset '{dir}': no usable image" + (summary.Count > 0 ? " (" + string.Join("; ", summary) + ")" : ""));
        return new CaptionedImageFolder(dir, examples, files, summary, imageSize);
    }
}
