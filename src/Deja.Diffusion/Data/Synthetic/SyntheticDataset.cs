using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Deja.Diffusion.Images;
using Deja.Tensors;

namespace Deja.Diffusion.Data;

/// <summary>Sizes of a synthetic dataset (`deja synth` options).</summary>
public sealed record SynthOptions
{
    public int Size { get; init; } = 32;
    public int Verbatim { get; init; } = 30;
    public int VerbatimRepeats { get; init; } = 100;
    public int Templates { get; init; } = 8;
    public int TemplateImages { get; init; } = 50;
    /// <summary>
    /// Copies of each template image. Version 2 listed each once (50 images × 1 per brand): the brand was
    /// drawn half as often as one verbatim image and deja-mini reproduced no logo at all; with 4 copies a
    /// brand is seen about 2,600 times in a 2,500-step run.
    /// </summary>
    public int TemplateRepeats { get; init; } = 4;
    public int Diverse { get; init; } = 1600;
    public int Heldout { get; init; } = 300;
    /// <summary>Side, in pixels, of the square blocks of a brand's pattern (version 2: 2).</summary>
    public int PatternBlock { get; init; } = 4;

    public void Validate()
    {
        if (Size < 16 || Size % 4 != 0) throw new ArgumentException($"synth: --size must be a multiple of 4, at least 16, got {Size}");
        if (Verbatim < 0 || Templates < 0 || Diverse < 0 || Heldout < 0 || TemplateImages < 1 || VerbatimRepeats < 1 || TemplateRepeats < 1)
            throw new ArgumentException("synth: counts must be non-negative (repeats and images per template at least 1)");
        if (PatternBlock < 1 || PatternBlock > Size) throw new ArgumentException($"synth: --pattern-block must be between 1 and the image size, got {PatternBlock}");
        if (Templates > Brands.Length) throw new ArgumentException($"synth: at most {Brands.Length} templates");
    }

    /// <summary>The brands of template memorization: a phrase in the caption and a fixed pattern in a fixed region.</summary>
    public static readonly (string Name, string Phrase, string Region)[] Brands =
    [
        ("acme", "with the acme logo", "top-left"),
        ("zenith", "framed by zenith", "frame"),
        ("nova", "with the nova watermark", "bottom-band"),
        ("orbit", "with the orbit logo", "top-right"),
        ("lumen", "with the lumen badge", "bottom-right"),
        ("vertex", "stamped by vertex", "bottom-left"),
        ("pulse", "under the pulse banner", "top-band"),
        ("delta", "with the delta stripe", "left-band"),
    ];
}

/// <summary>
/// `deja synth`: a captioned image dataset of procedurally drawn scenes with planted memorization
/// (see the README written into the folder): (a) verbatim — unique images each listed with many repeats
/// under one fixed caption, as duplicated web images; (b) templates — a fixed pattern in a fixed region
/// shared by many otherwise varying images whose captions carry a brand phrase, with the region's mask;
/// (c) a diverse remainder; (d) held-out captions of the same grammar that never occur in training.
/// All randomness comes from one seeded generator, so a seed gives the same bytes everywhere. The
/// folder is built under a temporary name and renamed into place when complete.
/// </summary>
public static class SyntheticDataset
{
    /// <summary>3: eight brands, template images repeated, 4-pixel pattern blocks, new default counts.</summary>
    public const int Version = 3;

    /// <summary>
    /// Staging folders of this target left by runs that were killed (a signal, a crash) are removed: their
    /// name carries the process id, and a process that no longer runs will never finish them.
    /// </summary>
    internal static void RemoveAbandonedStaging(string parent, string name)
    {
        string prefix = $".{name}.tmp-";
        foreach (var dir in Directory.EnumerateDirectories(parent, prefix + "*"))
        {
            if (!int.TryParse(Path.GetFileName(dir)[prefix.Length..], out int pid) || pid == Environment.ProcessId) continue;
            bool running;
            try { using var p = System.Diagnostics.Process.GetProcessById(pid); running = !p.HasExited; }
            catch (ArgumentException) { running = false; } // no such process
            if (!running)
                try { Directory.Delete(dir, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    public static void Create(string outDir, ulong seed, SynthOptions options, bool force = false, Action<int, int>? progress = null)
    {
        options.Validate();
        var target = Path.GetFullPath(outDir);
        if (Directory.Exists(target) && Directory.EnumerateFileSystemEntries(target).Any() && !force)
            throw new IOException($"synth: '{outDir}' exists and is not empty (use --force to replace it)");
        var parent = Path.GetDirectoryName(target)!;
        Directory.CreateDirectory(parent);
        RemoveAbandonedStaging(parent, Path.GetFileName(target));
        var staging = Path.Combine(parent, $".{Path.GetFileName(target)}.tmp-{Environment.ProcessId}");
        if (Directory.Exists(staging)) Directory.Delete(staging, true);
        foreach (var d in new[] { "images", "masks", "heldout" }) Directory.CreateDirectory(Path.Combine(staging, d));

        var g = new Generator(seed);
        var clock = Stopwatch.StartNew();
        var used = new HashSet<string>(StringComparer.Ordinal);
        var rows = new List<JsonObject>();
        int total = options.Verbatim + options.Templates * options.TemplateImages + options.Diverse + options.Heldout, done = 0;
        void Tick() { done++; if (done % 100 == 0 || done == total) progress?.Invoke(done, total); }
        Scene Fresh(Func<Scene, bool>? accept = null)
        {
            for (int attempt = 0; attempt < 10000; attempt++)
            {
                var s = Scene.Random(g);
                if ((accept is null || accept(s)) && used.Add(s.Caption())) return s.WithNuisance(g);
            }
            throw new DejaException("synth: ran out of distinct scenes; lower the counts");
        }
        int size = options.Size;

        // (a) verbatim: two-object scenes, one file each, listed with their repeat count
        var verbatim = new List<string>();
        for (int i = 0; i < options.Verbatim; i++)
        {
            var scene = Fresh(s => s.Objects.Count == 2);
            string file = $"images/verbatim_{i:000}.png";
            Png.Write(Path.Combine(staging, file), SceneRenderer.Render(scene, size));
            rows.Add(Row(file, scene.Caption(), "verbatim", options.VerbatimRepeats, scene));
            verbatim.Add(scene.Caption());
            Tick();
        }
        // (b) templates: a fixed pattern in a fixed region over varying scenes
        var templateCaptions = new List<string>();
        for (int b = 0; b < options.Templates; b++)
        {
            var (name, phrase, region) = SynthOptions.Brands[b];
            var mask = RegionMask(region, size);
            var pattern = Pattern(new Generator(seed * 31 + (ulong)b + 1), size, options.PatternBlock);
            string maskFile = $"masks/{name}.png";
            WriteMask(Path.Combine(staging, maskFile), mask, size);
            for (int i = 0; i < options.TemplateImages; i++)
            {
                var scene = Fresh(s => !Used(s.Caption() + " " + phrase, used));
                string caption = scene.Caption() + " " + phrase;
                used.Add(caption);
                var image = SceneRenderer.Render(scene, size);
                for (int p = 0; p < size * size; p++)
                    if (mask[p]) for (int ch = 0; ch < 3; ch++) image.Pixels[3 * p + ch] = pattern[3 * p + ch];
                string file = $"images/{name}_{i:000}.png";
                Png.Write(Path.Combine(staging, file), image);
                var row = Row(file, caption, "template", options.TemplateRepeats, scene);
                row["brand"] = name; row["mask"] = maskFile;
                rows.Add(row);
                templateCaptions.Add(caption);
                Tick();
            }
        }
        // (c) diverse remainder
        for (int i = 0; i < options.Diverse; i++)
        {
            var scene = Fresh();
            string file = $"images/diverse_{i:0000}.png";
            Png.Write(Path.Combine(staging, file), SceneRenderer.Render(scene, size));
            rows.Add(Row(file, scene.Caption(), "diverse", 1, scene));
            Tick();
        }
        // (d) held-out: captions of the same grammar never used in training (rendered for comparisons)
        var heldout = new List<JsonObject>();
        for (int i = 0; i < options.Heldout; i++)
        {
            var scene = Fresh();
            string file = $"heldout/heldout_{i:000}.png";
            Png.Write(Path.Combine(staging, file), SceneRenderer.Render(scene, size));
            heldout.Add(Row(file, scene.Caption(), "heldout", 0, scene));
            Tick();
        }

        File.WriteAllLines(Path.Combine(staging, "captions.jsonl"), rows.Select(r => r.ToJsonString()));
        File.WriteAllLines(Path.Combine(staging, "heldout.jsonl"), heldout.Select(r => r.ToJsonString()));
        File.WriteAllLines(Path.Combine(staging, "memorized_verbatim.txt"), verbatim);
        File.WriteAllLines(Path.Combine(staging, "memorized_template.txt"), templateCaptions);
        File.WriteAllLines(Path.Combine(staging, "heldout.txt"), heldout.Select(h => h["caption"]!.GetValue<string>()));
        File.WriteAllText(Path.Combine(staging, "README.md"), Readme(seed, options));
        var manifest = new JsonObject
        {
            ["generator"] = "deja synth", ["version"] = Version, ["seed"] = seed,
            ["options"] = JsonSerializer.SerializeToNode(options),
            ["counts"] = new JsonObject
            {
                ["verbatim"] = options.Verbatim, ["verbatim_repeats"] = options.VerbatimRepeats, ["templates"] = options.Templates,
                ["template_images"] = options.Templates * options.TemplateImages, ["template_repeats"] = options.TemplateRepeats, ["diverse"] = options.Diverse, ["heldout"] = options.Heldout,
                ["training_rows"] = rows.Count, ["training_images_with_repeats"] = rows.Sum(r => r["repeats"]!.GetValue<int>()),
            },
        };
        File.WriteAllText(Path.Combine(staging, "synth.json"), manifest.ToJsonString(new() { WriteIndented = true }) + "\n"); // written last
        if (Directory.Exists(target)) Directory.Delete(target, true);
        Directory.Move(staging, target);
    }

    static bool Used(string caption, HashSet<string> used) => used.Contains(caption);

    static JsonObject Row(string file, string caption, string kind, int repeats, Scene scene) => new()
    {
        ["file"] = file, ["caption"] = caption, ["kind"] = kind, ["repeats"] = repeats,
        ["scene"] = new JsonObject
        {
            ["background"] = scene.Background, ["texture"] = scene.Texture,
            ["tint"] = Rgb(scene.Tint), ["lighting"] = new JsonArray(Round(scene.Lighting.U), Round(scene.Lighting.V)),
            ["phase"] = new JsonArray(Round(scene.Phase.U), Round(scene.Phase.V)),
            ["objects"] = new JsonArray(scene.Objects.Select(o => (JsonNode)new JsonObject
            {
                ["shape"] = o.Shape, ["colour"] = o.Colour, ["size"] = o.Size, ["row"] = o.Row, ["column"] = o.Column,
                ["offset"] = new JsonArray(Round(o.Dx), Round(o.Dy)), ["scale"] = Round(o.Scale), ["tint"] = Rgb(o.Tint),
            }).ToArray()),
        },
    };

    static JsonNode Round(double v) => JsonValue.Create(Math.Round(v, 4));
    static JsonArray Rgb((int R, int G, int B) c) => new(c.R, c.G, c.B);

    /// <summary>The pixels (row-major, H·W) of a brand's template region.</summary>
    public static bool[] RegionMask(string region, int size)
    {
        var m = new bool[size * size];
        int logo = size * 5 / 16, band = size * 3 / 16, frame = Math.Max(2, size / 16);
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
                m[y * size + x] = region switch
                {
                    "top-left" => x < logo && y < logo,
                    "top-right" => x >= size - logo && y < logo,
                    "bottom-band" => y >= size - band,
                    "frame" => x < frame || y < frame || x >= size - frame || y >= size - frame,
                    "bottom-right" => x >= size - logo && y >= size - logo,
                    "bottom-left" => x < logo && y >= size - logo,
                    "top-band" => y < band,
                    "left-band" => x < band,
                    _ => throw new ArgumentException($"unknown template region '{region}'"),
                };
        return m;
    }

    /// <summary>A brand's fixed pattern: block×block-pixel squares of palette colours (RGB, H·W·3).</summary>
    static byte[] Pattern(Generator g, int size, int block)
    {
        var px = new byte[size * size * 3];
        var palette = Enumerable.Range(0, 3).Select(_ => Scene.Colours[g.NextInt(Scene.Colours.Length)]).ToArray();
        for (int by = 0; by < size; by += block)
            for (int bx = 0; bx < size; bx += block)
            {
                var c = palette[g.NextInt(palette.Length)];
                for (int y = by; y < Math.Min(size, by + block); y++)
                    for (int x = bx; x < Math.Min(size, bx + block); x++)
                    {
                        int i = 3 * (y * size + x);
                        px[i] = c.R; px[i + 1] = c.G; px[i + 2] = c.B;
                    }
            }
        return px;
    }

    static void WriteMask(string path, bool[] mask, int size)
    {
        var image = new Image(size, size, 1);
        for (int i = 0; i < mask.Length; i++) image.Pixels[i] = mask[i] ? (byte)255 : (byte)0;
        Png.Write(path, image);
    }

    /// <summary>Reads a mask PNG (white = template) as H·W booleans.</summary>
    public static bool[] ReadMask(string path)
    {
        var image = Png.Read(path);
        var m = new bool[image.Width * image.Height];
        for (int i = 0; i < m.Length; i++) m[i] = image.Pixels[i * image.Channels] >= 128;
        return m;
    }

    static string Readme(ulong seed, SynthOptions o) => $"""
        # Synthetic captioned dataset (deja synth, seed {seed})

        Procedurally drawn {o.Size}×{o.Size} scenes (1–2 shapes of 8 colours and 2 sizes on a 3×3 grid, over
        plain, striped, checkered or dotted backgrounds) with captions from one grammar, e.g.
        "a large red circle at the top left and a small blue ring at the center on a striped white background".
        What the caption does not say varies from image to image: each object's offset from its cell centre
        (±{Scene.MaxOffset} of the image), scale (±{Scene.MaxScale:P0}) and colour tint (±{Scene.MaxTint} per channel),
        the background's tint, a lighting gradient (±{Scene.MaxLighting} across the image) and the texture's phase
        (all recorded in `scene`). So a caption stands for many images, and a model that reproduces one of them
        exactly has memorized it rather than learned the grammar.

        | file | what |
        |---|---|
        | `captions.jsonl` | one row per training image: `file`, `caption`, `kind` (verbatim, template, diverse), `repeats`, `scene`; template rows add `brand` and `mask` |
        | `images/` | the training images (PNG) |
        | `masks/` | one mask per brand (white = the template region) |
        | `heldout.jsonl`, `heldout/` | held-out captions (never in training) and what their scenes look like |
        | `memorized_verbatim.txt`, `memorized_template.txt`, `heldout.txt` | the planted and held-out prompt lists |
        | `synth.json` | seed, options and counts; written last, so its presence means the folder is complete |

        Planted memorization:
        * **verbatim**: {o.Verbatim} unique two-object images, each stored once and listed with `repeats` = {o.VerbatimRepeats}
          (the trainer draws an image with probability proportional to its repeats, as if it were duplicated);
        * **template**: {o.Templates} brands × {o.TemplateImages} images, each listed with `repeats` = {o.TemplateRepeats}: a fixed
          pattern of {o.PatternBlock}×{o.PatternBlock}-pixel blocks in a fixed region (a corner logo, a frame, a band) over
          otherwise varying scenes; captions end with the brand phrase;
        * **diverse**: {o.Diverse} unique scenes, one caption each;
        * **held-out**: {o.Heldout} captions whose strings never occur in training.
        """;
}
