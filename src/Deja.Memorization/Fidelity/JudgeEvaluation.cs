using System.Text.Json;
using System.Text.Json.Nodes;
using Deja.Diffusion.Images;
using Deja.Diffusion.Pipelines;
using Deja.Memorization.Localization;
using Deja.Memorization.Replication;
using Deja.Tensors;

namespace Deja.Memorization.Fidelity;

/// <summary>
/// `deja judge eval`: how well the judge reads what captions state, on three kinds of images. (1) Fresh
/// synthetic renders from a seed training never drew from — content known exactly. (2) deja-mini's
/// generations of the benchmark's memorized captions, at the seeds whose generation replicates a training
/// image (replicate.jsonl's <c>seeds</c>): their content is that of the copied training image, which the
/// caption describes (for template captions the copy is judged on the brand's region; the rest of the
/// image follows the caption but is not a copy). (3) Generations of the benchmark's held-out captions: the
/// model's fidelity without memorization, the ceiling that mitigation is measured against.
/// </summary>
public static class JudgeEvaluation
{
    /// <summary>Held-out synthetic accuracy: <paramref name="count"/> fresh images of synth's scene distribution from <paramref name="seed"/>.</summary>
    public static FidelityTally Synthetic(CaptionJudge judge, int count, ulong seed, JudgeDataOptions? options = null)
    {
        var tally = new FidelityTally("synthetic");
        var g = new Generator(seed);
        for (int start = 0; start < count; start += 500)
        {
            var batch = JudgeData.Draw(g, Math.Min(500, count - start), judge.ImageSize, options ?? JudgeDataOptions.HeldOut);
            var predictions = judge.Predict([.. Enumerable.Range(0, batch.Count).Select(batch.Image)]);
            for (int i = 0; i < batch.Count; i++) tally.Add(FidelityVerdict.Judge(batch.Caption(i), predictions[i], judge.ImageSize));
        }
        return tally;
    }

    /// <summary>A benchmark caption to generate and judge, with the generations (0 … n−1) to keep.</summary>
    public sealed record BenchmarkCase(string Caption, string Kind, IReadOnlyList<int> Generations);

    /// <summary>Generation settings of a benchmark (replicate.json): what its seeds refer to.</summary>
    public sealed record BenchmarkSettings(string ModelId, int N, long Seed, int Steps, double Guidance);

    /// <summary>
    /// The benchmark's memorized captions (kind verbatim or template, replicated) with their replicating
    /// generations, and its held-out captions that did not replicate with all n generations — the captions
    /// of memorized.txt and nonmemorized.txt. <paramref name="memorized"/>, <paramref name="heldout"/>: at most
    /// that many of each (null: all), in file order.
    /// </summary>
    public static (BenchmarkSettings Settings, List<BenchmarkCase> Cases) BenchmarkCases(string folder, int? memorized, int? heldout)
    {
        if (!Directory.Exists(folder)) throw new DejaException($"--benchmark {folder}: no such folder");
        var summaryPath = Path.Combine(folder, "replicate.json");
        var rowsPath = Path.Combine(folder, "replicate.jsonl");
        foreach (var p in new[] { summaryPath, rowsPath })
            if (!File.Exists(p)) throw new DejaException($"--benchmark {folder}: no {Path.GetFileName(p)} (a folder written by deja replicate)");
        JsonNode? summary;
        try { summary = JsonNode.Parse(File.ReadAllText(summaryPath)); }
        catch (JsonException e) { throw new DejaException($"{summaryPath}: not JSON ({e.Message})", e); }
        BenchmarkSettings settings;
        try
        {
            settings = new BenchmarkSettings((string)summary!["model"]!, (int)summary["n"]!, (long)summary["seed"]!, (int)summary["steps"]!, (double)summary["guidance"]!);
        }
        catch (Exception e) when (e is NullReferenceException or InvalidOperationException or FormatException)
        {
            throw new DejaException($"{summaryPath}: needs \"model\", \"n\", \"seed\", \"steps\" and \"guidance\" (the generation settings)", e);
        }
        var cases = new List<BenchmarkCase>();
        int memorizedCount = 0, heldoutCount = 0;
        foreach (var (o, where) in JsonFields.Objects(rowsPath))
        {
            string caption = JsonFields.String(o, "caption", where), kind = JsonFields.String(o, "kind", where);
            bool replicated = o.TryGetProperty("replicated_l2", out var r) && r.ValueKind == JsonValueKind.True;
            if (kind == "heldout" && !replicated)
            {
                if (heldout is { } h && heldoutCount >= h) continue;
                heldoutCount++;
                cases.Add(new BenchmarkCase(caption, kind, [.. Enumerable.Range(0, settings.N)]));
            }
            else if (kind != "heldout" && replicated)
            {
                if (memorized is { } m && memorizedCount >= m) continue;
                if (!o.TryGetProperty("seeds", out var seeds) || seeds.ValueKind != JsonValueKind.Array)
                    throw new DejaException($"{where}: a replicated caption needs \"seeds\", its replicating generations (deja replicate writes them)");
                var generations = new List<int>();
                foreach (var s in seeds.EnumerateArray())
                {
                    long j = s.TryGetInt64(out long v) ? v - settings.Seed : -1;
                    if (j < 0 || j >= settings.N) throw new DejaException($"{where}: seed {s.GetRawText()} is not one of the {settings.N} generations from seed {settings.Seed}");
                    generations.Add((int)j);
                }
                if (generations.Count == 0) continue;
                memorizedCount++;
                cases.Add(new BenchmarkCase(caption, kind, generations));
            }
        }
        return (settings, cases);
    }

    /// <summary>
    /// Generates every case's n images exactly as `deja replicate` did (<see cref="CaptionGenerations"/>:
    /// seeds seed + j, one batched guided DDIM run) and judges the kept ones. Tallies per kind:
    /// "replicated verbatim", "replicated template", "held-out generations".
    /// </summary>
    public static IReadOnlyList<FidelityTally> Generations(CaptionJudge judge, StableDiffusionPipeline pipe, BenchmarkSettings settings,
        IReadOnlyList<BenchmarkCase> cases, Action<int, int>? progress = null, Action<BenchmarkCase, int, float[], FidelityVerdict>? onVerdict = null)
    {
        if (pipe.Info.Id != settings.ModelId)
            throw new DejaException($"--model {pipe.Info.Directory} is model {pipe.Info.Id}; the benchmark's seeds were measured on model {settings.ModelId}");
        int size = pipe.DefaultImageSize ?? judge.ImageSize;
        if (size != judge.ImageSize) throw new DejaException($"--model generates {size}×{size} images; the judge reads {judge.ImageSize}×{judge.ImageSize}");
        foreach (var c in cases) CaptionAttributes.Parse(c.Caption); // refuse a caption the judge cannot read before generating anything
        var tallies = new Dictionary<string, FidelityTally>();
        FidelityTally Tally(string kind)
        {
            string name = SetName(kind);
            if (!tallies.TryGetValue(name, out var t)) tallies[name] = t = new FidelityTally(name);
            return t;
        }
        for (int i = 0; i < cases.Count; i++)
        {
            var c = cases[i];
            var images = CaptionGenerations.Generate(pipe, c.Caption, settings.N, settings.Seed, settings.Steps, settings.Guidance, size);
            var kept = c.Generations.Select(j => FromUnitRange(images[j])).ToList();
            var verdicts = judge.Fidelity([.. kept.Select(image => (c.Caption, image))]);
            for (int k = 0; k < verdicts.Count; k++)
            {
                Tally(c.Kind).Add(verdicts[k]);
                onVerdict?.Invoke(c, c.Generations[k], kept[k], verdicts[k]);
            }
            progress?.Invoke(i + 1, cases.Count);
        }
        return [.. tallies.Values.OrderBy(t => Array.IndexOf(SetOrder, t.Name) is var k && k >= 0 ? k : SetOrder.Length)];
    }

    /// <summary>The report's name of a benchmark kind's generations.</summary>
    public static string SetName(string kind) => kind == "heldout" ? "held-out generations" : $"replicated {kind}";

    static readonly string[] SetOrder = ["replicated verbatim", "replicated template", "held-out generations"];

    /// <summary>One (caption, image) pair read from disk; <see cref="Set"/> groups the report (null: one group).</summary>
    public sealed record StoredImage(string Caption, float[] Image, string File, string? Set);

    /// <summary>[0, 1] → [−1, 1], the pipeline's pixel range.</summary>
    public static float[] FromUnitRange(float[] unit) => [.. unit.Select(v => v * 2 - 1)];

    /// <summary>
    /// (caption, image) pairs from a JSONL file — rows with "caption" or "prompt" and "image" or "file", a
    /// PNG path relative to the file's folder, and optionally "set" — or from a folder holding such a file:
    /// `deja judge eval --save-images`'s images.jsonl, `deja mitigate`'s mitigate.jsonl or `deja synth`'s
    /// captions.jsonl.
    /// </summary>
    public static List<StoredImage> ReadImages(string path, int imageSize)
    {
        string file = path;
        if (Directory.Exists(path))
            file = new[] { "images.jsonl", "mitigate.jsonl", "captions.jsonl" }.Select(f => Path.Combine(path, f)).FirstOrDefault(File.Exists)
                ?? throw new DejaException($"--images {path}: the folder holds none of images.jsonl, mitigate.jsonl, captions.jsonl");
        else if (!File.Exists(path)) throw new DejaException($"--images {path}: no such file or folder");
        var folder = Path.GetDirectoryName(Path.GetFullPath(file))!;
        var items = new List<StoredImage>();
        foreach (var (o, where) in JsonFields.Objects(file))
        {
            string caption = JsonFields.OptionalString(o, "caption", where) ?? JsonFields.OptionalString(o, "prompt", where)
                ?? throw new DejaException($"{where} has neither \"caption\" nor \"prompt\"");
            string image = JsonFields.OptionalString(o, "image", where) ?? JsonFields.OptionalString(o, "file", where)
                ?? throw new DejaException($"{where} has neither \"image\" nor \"file\"");
            var png = Path.Combine(folder, image);
            if (!File.Exists(png)) throw new DejaException($"{where}: image {png} does not exist");
            Image read;
            try { read = Png.Read(png); }
            catch (Exception e) when (e is InvalidDataException or IOException or ArgumentException) { throw new DejaException($"{where}: {png} is not a readable PNG ({e.Message})", e); }
            if (read.Width != imageSize || read.Height != imageSize)
                throw new DejaException($"{where}: {png} is {read.Width}×{read.Height}; the judge reads {imageSize}×{imageSize}");
            using var t = read.ToTensor01();
            items.Add(new StoredImage(caption, FromUnitRange(t.ToArray()), png, JsonFields.OptionalString(o, "set", where)));
        }
        if (items.Count == 0) throw new DejaException($"--images {file}: no rows");
        return items;
    }
}
