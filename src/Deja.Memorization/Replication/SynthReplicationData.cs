using System.Text.Json.Nodes;
using Deja.Diffusion.Data;
using Deja.Diffusion.Training;
using Deja.Tensors;

namespace Deja.Memorization.Replication;

/// <summary>
/// What replication is measured against, read from a `deja synth` folder: the training images (in [0, 1],
/// one per file, as `deja train` read them) and the cases `deja replicate` tests — every verbatim caption,
/// the first template captions of each brand (judged on the brand's mask, against that brand's images)
/// and the held-out captions. One place, so that `deja replicate` and `deja mitigate --sweep` measure
/// the same way.
/// </summary>
public sealed class SynthReplicationData
{
    public required string Folder { get; init; }
    public required CaptionedImageFolder Dataset { get; init; }
    /// <summary>The training images as [3, S, S] floats in [0, 1].</summary>
    public required IReadOnlyList<float[]> Training { get; init; }
    public required IReadOnlyList<ReplicationCase> Cases { get; init; }
    public int Size => Dataset.Size;

    /// <summary>
    /// Loads <paramref name="folder"/> at <paramref name="size"/> pixels. <paramref name="perBrand"/>
    /// template captions per brand and <paramref name="heldout"/> held-out captions become cases (null: all).
    /// Left-out unreadable images (<paramref name="skipBad"/>) and brands are reported through <paramref name="log"/>.
    /// </summary>
    public static SynthReplicationData Load(string folder, int size, int? perBrand = null, int? heldout = null, bool skipBad = false, Action<string>? log = null)
    {
        if (!File.Exists(Path.Combine(folder, "synth.json"))) throw new DejaException($"--data '{folder}' is not a complete deja synth folder (no synth.json)");
        var dataset = CaptionedImageFolder.Load(folder, size, skipBad);
        foreach (var s in dataset.Skipped) log?.Invoke($"left out {s}");
        var rows = File.ReadLines(Path.Combine(folder, CaptionedImageFolder.CaptionsFile)).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        var indexOfFile = dataset.Files.Select((f, i) => (f, i)).ToDictionary(x => x.f, x => x.i);
        var cases = new List<ReplicationCase>();
        foreach (var r in rows.Where(r => (string)r["kind"]! == "verbatim")) cases.Add(new ReplicationCase((string)r["caption"]!, "verbatim"));
        foreach (var brand in rows.Where(r => (string)r["kind"]! == "template").GroupBy(r => (string)r["brand"]!))
        {
            var mask = SyntheticDataset.ReadMask(Path.Combine(folder, (string)brand.First()["mask"]!));
            // A left-out image (--skip-bad) is not among the references: the model never saw it either.
            var references = brand.Select(r => indexOfFile.TryGetValue((string)r["file"]!, out int i) ? i : -1).Where(i => i >= 0).ToList();
            if (references.Count == 0) { log?.Invoke($"left out brand {brand.Key}: none of its images could be read"); continue; }
            foreach (var r in brand.Take(perBrand ?? int.MaxValue))
                cases.Add(new ReplicationCase((string)r["caption"]!, "template", mask, references) { Brand = brand.Key, MaskFile = (string)r["mask"]! });
        }
        foreach (var line in File.ReadLines(Path.Combine(folder, "heldout.jsonl")).Take(heldout ?? int.MaxValue))
            cases.Add(new ReplicationCase((string)JsonNode.Parse(line)!["caption"]!, "heldout"));
        return new SynthReplicationData
        {
            Folder = folder, Dataset = dataset, Cases = cases,
            Training = [.. dataset.Examples.Select(e => CaptionGenerations.ToUnitRange(e.Pixels))],
        };
    }

    /// <summary>
    /// The case of each caption, in order, with the kind (and brand mask) the dataset gives it; a caption
    /// that is not in the dataset is refused, naming <paramref name="source"/>.
    /// </summary>
    public List<ReplicationCase> CasesFor(IEnumerable<string> captions, string source)
    {
        var byCaption = Cases.GroupBy(c => c.Caption).ToDictionary(g => g.Key, g => g.First());
        var list = captions.ToList();
        var unknown = list.Where(c => !byCaption.ContainsKey(c)).ToList();
        if (unknown.Count > 0)
            throw new DejaException($"replicate: {unknown.Count} caption(s) of {source} are not in {Folder} (first: \"{unknown[0]}\"); measure images against the dataset their captions come from");
        return [.. list.Select(c => byCaption[c])];
    }
}
