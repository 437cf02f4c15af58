using System.Text.Json;
using Deja.Cli.Tests.Support;
using Deja.Diffusion.Images;
using Deja.Diffusion.IO;
using Deja.Tensors;

namespace Deja.Cli.Tests;

/// <summary>`deja eval-localize` end to end: a maps folder as `deja localize` writes it, a small benchmark
/// folder, the table, the JSON, and the inputs it must refuse without leaving a report behind.</summary>
public class EvalLocalizeCommandTests
{
    const int Size = 8;

    /// <summary>Left half white: 32 of 64 pixels.</summary>
    static byte[] LeftHalf() => [.. Enumerable.Range(0, Size * Size).Select(i => i % Size < Size / 2 ? (byte)255 : (byte)0)];

    /// <summary>
    /// bench/: template captions "tpl a" (replicated by generations 0 and 1) and "tpl b" (generation 1 only),
    /// a verbatim caption and two held-out ones. loc/: prompts 0–5 (5 is in no benchmark list), generations 0
    /// and 1, with a "perfect" 8×8 map equal to each sample's truth and a "coarse" 4×4 noise map.
    /// </summary>
    static void WriteFixture(TempDir dir, bool withHeldOut = true, string? leaveOut = null)
    {
        var bench = dir.File("bench");
        Directory.CreateDirectory(Path.Combine(bench, "masks"));
        Png.Write(Path.Combine(bench, "masks", "acme.png"), new Image(Size, Size, 1, LeftHalf()));
        File.WriteAllLines(Path.Combine(bench, "replicate.jsonl"), [
            """{"caption":"tpl a","kind":"template","brand":"acme","mask":"masks/acme.png","seeds":[0,1],"replicated_l2":true}""",
            """{"caption":"tpl b","kind":"template","brand":"acme","mask":"masks/acme.png","seeds":[1],"replicated_l2":true}""",
            """{"caption":"verb","kind":"verbatim","replicated_l2":true}""",
            """{"caption":"held 1","kind":"heldout","replicated_l2":false}""",
            """{"caption":"held 2","kind":"heldout","replicated_l2":false}""",
        ]);
        File.WriteAllLines(Path.Combine(bench, "memorized.txt"), withHeldOut ? ["tpl a", "tpl b", "verb"] : ["verb"]);
        File.WriteAllLines(Path.Combine(bench, "nonmemorized.txt"), withHeldOut ? ["held 1", "held 2"] : []);

        var loc = dir.File("loc");
        Directory.CreateDirectory(loc);
        string[] prompts = ["tpl a", "tpl b", "verb", "held 1", "held 2", "stray"];
        File.WriteAllLines(Path.Combine(loc, "localize.jsonl"), prompts.Select((p, i) =>
            JsonSerializer.Serialize(new { index = i, prompt = p, generations = new[] { 0, 1 }, scores = new { perfect = 0.5 } })));
        var rng = new Random(1);
        var tensors = new List<(string, Tensor)>();
        for (int i = 0; i < prompts.Length; i++)
            for (int g = 0; g < 2; g++)
            {
                float[] perfect = i switch
                {
                    0 or 1 => [.. LeftHalf().Select(b => b / 255f)],
                    2 => [.. Enumerable.Repeat(1f, Size * Size)],
                    _ => new float[Size * Size],
                };
                tensors.Add(($"{i}/{g}/perfect", Tensor.FromArray(perfect, Size, Size)));
                tensors.Add(($"{i}/{g}/coarse", Tensor.FromArray([.. Enumerable.Range(0, 16).Select(_ => (float)rng.NextDouble())], 4, 4)));
            }
        SafeTensorsWriter.Write(Path.Combine(loc, "maps.safetensors"), tensors.Where(t => t.Item1 != leaveOut));
        foreach (var (_, t) in tensors) t.Dispose();
    }

    static string[] EvalLocalize(params string[] more) => ["eval-localize", "--maps", "loc", "--benchmark", "bench", "--bootstrap", "100", .. more];

    [Fact]
    public void APerfectMapScoresOneBesideTheBaselineInTheTableAndTheJson()
    {
        using var dir = new TempDir();
        WriteFixture(dir);
        var r = Support.Deja.Run(dir.Path, EvalLocalize("--json", "out.json"));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("TV only: 3 samples from 2 prompts, masks 8×8, 50.0% positive pixels", r.Out);
        Assert.Contains("ALL (unbalanced): 9 samples from 5 prompts", r.Out);
        Assert.Contains("left out: 1 prompts in neither memorized.txt nor nonmemorized.txt", r.Out);
        var perfectRow = r.Out.Split('\n').First(l => l.TrimStart().StartsWith("perfect ")).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["perfect", "1.000", "[1.000,", "1.000]"], perfectRow.Take(4));
        Assert.Contains("all_ones (baseline)", r.Out);

        using var doc = JsonDocument.Parse(File.ReadAllText(dir.File("out.json")));
        var root = doc.RootElement;
        Assert.Equal("eval-localize", root.GetProperty("command").GetString());
        Assert.Equal(101, root.GetProperty("thresholds").GetArrayLength());
        Assert.Equal(1, root.GetProperty("skipped").GetProperty("prompts_not_in_benchmark").GetInt32());
        Assert.Equal(1, root.GetProperty("skipped").GetProperty("generations_not_replicated").GetInt32()); // tpl b, generation 0
        var sets = root.GetProperty("sets");
        Assert.Equal(3, sets.GetProperty("tv").GetProperty("n_samples").GetInt32());
        Assert.Equal(9, sets.GetProperty("all").GetProperty("n_samples").GetInt32());
        foreach (var set in new[] { "tv", "all" })
        {
            var maps = sets.GetProperty(set).GetProperty("maps");
            Assert.Equal(["coarse", "perfect", "all_ones"], maps.EnumerateObject().Select(m => m.Name));
            var perfect = maps.GetProperty("perfect");
            foreach (var metric in new[] { "iou", "miou", "accuracy" })
            {
                Assert.Equal(1.0, perfect.GetProperty("oracle").GetProperty(metric).GetProperty("value").GetDouble());
                Assert.Equal(101, perfect.GetProperty("oracle").GetProperty("curves").GetProperty(metric).GetArrayLength());
                Assert.Equal(1.0, perfect.GetProperty("heldout_threshold").GetProperty(metric).GetProperty("value").GetDouble());
            }
            Assert.Equal(1.0, perfect.GetProperty("pixel_auc").GetProperty("value").GetDouble());
            Assert.Equal([1.0, 1.0], perfect.GetProperty("pixel_auc").GetProperty("ci").EnumerateArray().Select(v => v.GetDouble()));
            Assert.Equal(1.0, perfect.GetProperty("pixel_ap").GetProperty("value").GetDouble());
            Assert.True(maps.GetProperty("all_ones").GetProperty("baseline").GetBoolean());
            Assert.False(perfect.GetProperty("baseline").GetBoolean());
        }
        // On TV only the constant map's best IoU predicts everything: the region's share of the pixels.
        var baseline = sets.GetProperty("tv").GetProperty("maps").GetProperty("all_ones");
        Assert.Equal(0.5, baseline.GetProperty("oracle").GetProperty("iou").GetProperty("value").GetDouble(), 12);
        Assert.Equal(0.5, baseline.GetProperty("pixel_auc").GetProperty("value").GetDouble(), 12);
        Assert.Equal(["bench/masks/acme.png", "bench/memorized.txt", "bench/nonmemorized.txt", "bench/replicate.jsonl",
                      "loc/localize.jsonl", "loc/maps.safetensors", "out.json"], dir.Files());
    }

    [Fact]
    public void AMasksFileAndOneMapWork()
    {
        using var dir = new TempDir();
        WriteFixture(dir);
        Png.Write(dir.File("loc/acme.png"), new Image(Size, Size, 1, LeftHalf()));
        File.WriteAllLines(dir.File("loc/masks.jsonl"), [
            """{"index": 0, "generation": 0, "mask": "acme.png"}""",
            """{"index": 2, "generation": 1, "mask": "ones"}""",
            """{"index": 3, "generation": 0, "mask": "zeros"}""",
        ]);
        var r = Support.Deja.Run(dir.Path, "eval-localize", "--maps", "loc", "--masks", "loc/masks.jsonl", "--map", "perfect", "--bootstrap", "0", "--json", "m.json");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("No confidence intervals (--bootstrap 0).", r.Out);
        using var doc = JsonDocument.Parse(File.ReadAllText(dir.File("m.json")));
        var sets = doc.RootElement.GetProperty("sets");
        Assert.Equal(1, sets.GetProperty("tv").GetProperty("n_samples").GetInt32());
        Assert.Equal(3, sets.GetProperty("all").GetProperty("n_samples").GetInt32());
        Assert.Equal(["perfect", "all_ones"], sets.GetProperty("all").GetProperty("maps").EnumerateObject().Select(m => m.Name));
        Assert.Equal(JsonValueKind.Null, sets.GetProperty("all").GetProperty("maps").GetProperty("perfect").GetProperty("pixel_auc").GetProperty("ci").ValueKind);
        Assert.Equal(9, doc.RootElement.GetProperty("skipped").GetProperty("generations_without_mask").GetInt32());
    }

    [Fact]
    public void ANonBinaryMaskIsRefusedAndAnEarlierReportIsLeftAsItWas()
    {
        using var dir = new TempDir();
        WriteFixture(dir);
        var gray = LeftHalf();
        gray[5] = 128;
        Png.Write(dir.File("bench/masks/acme.png"), new Image(Size, Size, 1, gray));
        File.WriteAllText(dir.File("out.json"), "earlier");
        var r = Support.Deja.Run(dir.Path, EvalLocalize("--json", "out.json"));
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains("is not binary: pixel (5, 0) has gray level 128", Assert.Single(r.ErrorLines, l => l.StartsWith("deja: ")));
        Assert.Equal("", r.Out);
        Assert.Equal("earlier", File.ReadAllText(dir.File("out.json")));
        Assert.DoesNotContain(dir.Files(), f => f.EndsWith(".tmp"));
    }

    [Fact]
    public void WithoutANegativeSampleTheRunIsRefusedAndWritesNothing()
    {
        using var dir = new TempDir();
        WriteFixture(dir, withHeldOut: false); // only the verbatim caption: every mask is all ones
        var r = Support.Deja.Run(dir.Path, EvalLocalize("--json", "out.json"));
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains("has no negative pixel", r.ErrorLines[^1]);
        Assert.False(File.Exists(dir.File("out.json")));
    }

    [Fact]
    public void AMapNameThatIsNotInTheFileIsRefusedNamingTheMapsThatAre()
    {
        using var dir = new TempDir();
        WriteFixture(dir);
        var r = Support.Deja.Run(dir.Path, EvalLocalize("--map", "perfect", "--map", "cov", "--json", "out.json"));
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains("deja: eval-localize: --map cov: no such map in loc/maps.safetensors (it has coarse, perfect)", r.ErrorLines[^1]);
        Assert.False(File.Exists(dir.File("out.json")));
    }

    [Fact]
    public void AMapMissingForOneEvaluatedGenerationIsNamed()
    {
        using var dir = new TempDir();
        WriteFixture(dir, leaveOut: "3/1/coarse");
        var r = Support.Deja.Run(dir.Path, EvalLocalize("--json", "out.json"));
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains("has no map 'coarse' for prompt 3, generation 1", r.ErrorLines[^1]);
        Assert.False(File.Exists(dir.File("out.json")));
        // Prompt 5 is in no benchmark list, so a map missing there does not matter.
        using var other = new TempDir();
        WriteFixture(other, leaveOut: "5/0/coarse");
        var ok = Support.Deja.Run(other.Path, "eval-localize", "--maps", "loc", "--benchmark", "bench", "--bootstrap", "0");
        Assert.True(ok.ExitCode == 0, ok.ToString());
    }

    [Fact]
    public void BothOrNeitherGroundTruthIsRefused()
    {
        using var dir = new TempDir();
        WriteFixture(dir);
        var neither = Support.Deja.Run(dir.Path, "eval-localize", "--maps", "loc");
        Assert.True(neither.ExitCode == 1, neither.ToString());
        Assert.Contains("give exactly one of --benchmark DIR and --masks FILE", neither.ErrorLines[^1]);
        var missing = Support.Deja.Run(dir.Path, "eval-localize", "--maps", "nowhere", "--benchmark", "bench");
        Assert.True(missing.ExitCode == 1, missing.ToString());
        Assert.Contains("--maps nowhere: no such folder", missing.ErrorLines[^1]);
    }
}
