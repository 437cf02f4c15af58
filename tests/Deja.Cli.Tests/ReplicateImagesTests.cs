using System.Text.Json.Nodes;
using Deja.Cli.Tests.Support;

namespace Deja.Cli.Tests;

/// <summary>`deja replicate --images`: measures a mitigate folder's images with replicate's own cases and
/// thresholds — a copy of a training image replicates (L2 0), a flat grey image does not — and refuses
/// captions that are not in the dataset.</summary>
public class ReplicateImagesTests
{
    static void Row(string folder, string caption, int generation, string image) =>
        File.AppendAllLines(Path.Combine(folder, "mitigate.jsonl"), [new JsonObject
        {
            ["index"] = 0, ["generation"] = generation, ["prompt"] = caption, ["method"] = "prompt", ["model_id"] = "m", ["image"] = image,
        }.ToJsonString()]);

    [Fact]
    public void ACopiedTrainingImageReplicatesAndAGreyOneDoesNot()
    {
        using var dir = new TempDir();
        var data = Datasets.Synth(dir.File("synth"));
        var verbatim = File.ReadLines(Path.Combine(data, "captions.jsonl")).Select(l => JsonNode.Parse(l)!.AsObject())
            .First(r => (string)r["kind"]! == "verbatim");
        var images = dir.File("mitigated");
        Directory.CreateDirectory(Path.Combine(images, "images"));
        File.Copy(Path.Combine(data, (string)verbatim["file"]!), Path.Combine(images, "images", "copy.png"));
        var grey = new global::Deja.Diffusion.Images.Image(16, 16, 3);
        Array.Fill(grey.Pixels, (byte)128);
        global::Deja.Diffusion.Images.Png.Write(Path.Combine(images, "images", "grey.png"), grey);
        string caption = (string)verbatim["caption"]!;
        Row(images, caption, 0, "images/grey.png");
        Row(images, caption, 1, "images/copy.png");

        var r = Support.Deja.Run(dir.Path, "replicate", "--images", "mitigated", "--data", "synth", "--out", "measured");
        Assert.True(r.ExitCode == 0, r.ToString());
        var row = JsonNode.Parse(File.ReadAllLines(dir.File("measured/replicate.jsonl")).Single())!.AsObject();
        Assert.Equal(caption, (string)row["caption"]!);
        Assert.Equal(0.0, (double)row["min_l2"]!);
        Assert.True((bool)row["replicated_l2"]!);
        var perGeneration = row["generation_l2"]!.AsArray().Select(x => (double)x!).ToArray();
        Assert.True(perGeneration[0] > 0.1, $"the grey image is far from every training image: {perGeneration[0]}");
        Assert.Equal(0.0, perGeneration[1]);
        Assert.Equal([1L], row["seeds"]!.AsArray().Select(x => (long)x!)); // generation 1 copies
    }

    [Fact]
    public void EveryTemplateCaptionIsMeasuredNotOnlyTheFirstPerBrand()
    {
        using var dir = new TempDir();
        var data = Datasets.Synth(dir.File("synth"));
        // the second image of a brand: outside a model run's --templates-per-brand 1, still measurable
        var template = File.ReadLines(Path.Combine(data, "captions.jsonl")).Select(l => JsonNode.Parse(l)!.AsObject())
            .Where(r => (string)r["kind"]! == "template").GroupBy(r => (string)r["brand"]!).First().Skip(1).First();
        var images = dir.File("mitigated");
        Directory.CreateDirectory(Path.Combine(images, "images"));
        File.Copy(Path.Combine(data, (string)template["file"]!), Path.Combine(images, "images", "copy.png"));
        Row(images, (string)template["caption"]!, 0, "images/copy.png");
        var r = Support.Deja.Run(dir.Path, "replicate", "--images", "mitigated", "--data", "synth", "--out", "measured", "--templates-per-brand", "1");
        Assert.True(r.ExitCode == 0, r.ToString());
        var row = JsonNode.Parse(File.ReadAllLines(dir.File("measured/replicate.jsonl")).Single())!.AsObject();
        Assert.Equal("template", (string)row["kind"]!);
        Assert.Equal(0.0, (double)row["min_l2"]!);
    }

    [Fact]
    public void CaptionsOutsideTheDatasetAreRefused()
    {
        using var dir = new TempDir();
        Datasets.Synth(dir.File("synth"));
        var images = dir.File("mitigated");
        Directory.CreateDirectory(Path.Combine(images, "images"));
        var grey = new global::Deja.Diffusion.Images.Image(16, 16, 3);
        global::Deja.Diffusion.Images.Png.Write(Path.Combine(images, "images", "grey.png"), grey);
        Row(images, "a caption the dataset never had", 0, "images/grey.png");
        var r = Support.Deja.Run(dir.Path, "replicate", "--images", "mitigated", "--data", "synth", "--out", "measured");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("not in synth", r.Error);
        var both = Support.Deja.Run(dir.Path, "replicate", "--data", "synth", "--out", "measured2");
        Assert.NotEqual(0, both.ExitCode);
        Assert.Contains("exactly one of --model", both.Error);
    }
}
