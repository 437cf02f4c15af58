using System.Text.Json.Nodes;
using Deja.Diffusion.Images;
using Deja.Memorization.Mitigation;
using Deja.Tensors;

namespace Deja.Memorization.Tests.Mitigation;

/// <summary>A mitigate folder read back for measuring (GeneratedImages over MitigationRows): per-prompt numbers, and the folders it refuses.</summary>
public class GeneratedImagesTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("deja-generated-").FullName;
    public void Dispose() => Directory.Delete(dir, recursive: true);

    string Folder(string name, params (string Prompt, int Generation, string Model, double? Seconds, double? Before)[] rows)
    {
        string folder = Path.Combine(dir, name);
        Directory.CreateDirectory(Path.Combine(folder, "images"));
        using var pixels = Tensor.FromArray(new float[3 * 4 * 4], 3, 4, 4);
        var lines = new List<string>();
        int index = -1;
        string? last = null;
        foreach (var (prompt, generation, model, seconds, before) in rows)
        {
            if (prompt != last) { index++; last = prompt; }
            string image = $"images/{index:D5}-{generation}.png";
            Png.Write(Path.Combine(folder, image), Image.FromTensor01(pixels));
            lines.Add(new JsonObject
            {
                ["index"] = index, ["generation"] = generation, ["prompt"] = prompt, ["seed"] = index, ["method"] = "none", ["image"] = image,
                ["seconds"] = seconds, ["score_before"] = before, ["score_after"] = before, ["model_id"] = model,
                ["parameters"] = new JsonObject { ["method"] = "none", ["noise"] = new JsonObject { ["n"] = 2 }, ["scorer"] = "anisotropy", ["scorer_parameters"] = new JsonObject { ["t_norm"] = 981 } },
            }.ToJsonString());
        }
        File.WriteAllLines(Path.Combine(folder, MitigationOutput.RowsFile), lines);
        return folder;
    }

    [Fact]
    public void PromptNumbersComeFromEachCaptionsRows()
    {
        var images = GeneratedImages.Read(Folder("ok", ("a", 0, "m", 1.5, 2.0), ("a", 1, "m", 1.5, 2.0), ("b", 1, "m", null, null), ("b", 0, "m", null, null)));
        Assert.Equal(["a", "b"], images.Captions);
        Assert.Equal(2, images.Generations);
        Assert.Equal(4, images.Size);
        Assert.Equal(new PromptNumbers(1.5, 2.0, 2.0), images.Numbers("a"));
        Assert.Equal(new PromptNumbers(null, null, null), images.Numbers("b"));
        Assert.Equal((2, "anisotropy", 981), (images.NoiseDraws, images.Scorer, (int)images.ScorerParameters!["t_norm"]!));
        Assert.Equal(48, images.Image("b", 1).Length);
    }

    [Fact]
    public void MixedModelsAndUnfinishedCaptionsAreRefused()
    {
        Assert.Contains("rows of models m and other are mixed",
            Assert.Throws<DejaException>(() => GeneratedImages.Read(Folder("mixed", ("a", 0, "m", 1, 1), ("b", 0, "other", 1, 1)))).Message);
        Assert.Contains("caption \"b\" has generations 0, the first caption 0..1; finish the mitigate run first",
            Assert.Throws<DejaException>(() => GeneratedImages.Read(Folder("unfinished", ("a", 0, "m", 1, 1), ("a", 1, "m", 1, 1), ("b", 0, "m", 1, 1)))).Message);
        string escaping = Folder("escaping", ("a", 0, "m", 1, 1));
        File.WriteAllText(Path.Combine(escaping, MitigationOutput.RowsFile), "{\"index\":0,\"prompt\":\"a\",\"method\":\"none\",\"image\":\"../escaping/images/00000-0.png\"}\n".Replace("escaping/", "x/"));
        Assert.Contains("is not inside the folder", Assert.Throws<DejaException>(() => GeneratedImages.Read(escaping)).Message);
        Assert.Contains("has no mitigate.jsonl", Assert.Throws<DejaException>(() => GeneratedImages.Read(dir)).Message);
    }
}
