using System.Text.Json.Nodes;
using Deja.Cli.Tests.Support;
using Deja.Diffusion.IO;

namespace Deja.Cli.Tests;

/// <summary>`deja localize` end to end on the tiny SD1 pipeline: the three outputs and their names, resume,
/// benchmark mode on replicating seeds, and bad input refused before any work.</summary>
public class LocalizeCommandTests
{
    static readonly string[] Fast = ["--steps", "3", "--probes", "2"];

    [Fact]
    public void WritesMapsHeatmapsAndRowsAndResumes()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir.File("prompts.txt"), ["a cat on a mat", "an astronaut riding a horse"]);
        var r = Support.Deja.Run(dir.Path, ["localize", "--model", Repo.TinyPipeline("tiny-sd1"), "--prompts", "prompts.txt", "--out", "loc", "--n", "2", "--seed", "5",
            "--maps", "cov,score_diff,raw_curvature", .. Fast]);
        Assert.True(r.ExitCode == 0, r.ToString());
        using (var maps = SafeTensorsFile.Open(dir.File("loc/maps.safetensors")))
        {
            Assert.Equal(2 * 2 * 3, maps.Count);
            foreach (var index in new[] { 0, 1 })
                foreach (var seed in new[] { 5, 6 })
                    foreach (var map in new[] { "cov", "score_diff", "raw_curvature" })
                    {
                        var entry = maps.Entry($"{index}/{seed}/{map}");
                        Assert.Equal(2, entry.Shape.Length); // [H, W] at latent resolution
                    }
        }
        var rows = File.ReadAllLines(dir.File("loc/localize.jsonl")).Select(l => JsonNode.Parse(l)!.AsObject()).ToArray();
        Assert.Equal(2, rows.Length);
        Assert.Equal([5L, 6L], rows[0]["generations"]!.AsArray().Select(x => (long)x!));
        Assert.True((double)rows[1]["scores"]!["score_diff"]! > 0);
        Assert.Equal("localize", (string)rows[0]["method"]!);
        Assert.True(File.Exists(dir.File("loc/png/00001_6_cov.png")));

        var again = Support.Deja.Run(dir.Path, ["localize", "--model", Repo.TinyPipeline("tiny-sd1"), "--prompts", "prompts.txt", "--out", "loc", "--n", "2", "--seed", "5",
            "--maps", "cov,score_diff,raw_curvature", .. Fast]);
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Contains("2 already in loc", again.Error);
        Assert.Equal(2, File.ReadAllLines(dir.File("loc/localize.jsonl")).Length);

        // the spatial means are detection scores `deja eval` reads
        var changed = Support.Deja.Run(dir.Path, ["localize", "--model", Repo.TinyPipeline("tiny-sd1"), "--prompts", "prompts.txt", "--out", "loc", "--n", "2", "--seed", "5",
            "--maps", "cov", .. Fast]);
        Assert.True(changed.ExitCode == 1, changed.ToString());
        Assert.Contains("other params", changed.Error);
    }

    [Fact]
    public void BenchmarkModeMapsTheReplicatingSeedsAndTheHeldOutFirstSeed()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("bench"));
        File.WriteAllLines(dir.File("bench/replicate.jsonl"),
        [
            """{"caption":"a red cat","kind":"verbatim","seeds":[1,3],"replicated_l2":true}""",
            """{"caption":"a blue dog with the acme logo","kind":"template","seeds":[2],"brand":"acme","mask":"masks/acme.png","replicated_l2":true}""",
            """{"caption":"a green bird","kind":"heldout","seeds":[],"replicated_l2":false}""",
        ]);
        File.WriteAllLines(dir.File("bench/memorized.txt"), ["a red cat", "a blue dog with the acme logo"]);
        File.WriteAllLines(dir.File("bench/nonmemorized.txt"), ["a green bird"]);
        var r = Support.Deja.Run(dir.Path, ["localize", "--model", Repo.TinyPipeline("tiny-sd1"), "--benchmark", "bench", "--out", "loc", "--maps", "score_diff", "--no-png", .. Fast]);
        Assert.True(r.ExitCode == 0, r.ToString());
        var rows = File.ReadAllLines(dir.File("loc/localize.jsonl")).Select(l => JsonNode.Parse(l)!.AsObject()).ToArray();
        Assert.Equal(["a red cat", "a blue dog with the acme logo", "a green bird"], rows.Select(x => (string)x["prompt"]!));
        Assert.Equal([1L, 3L], rows[0]["generations"]!.AsArray().Select(x => (long)x!));
        Assert.Equal("template", (string)rows[1]["kind"]!);
        Assert.Equal([0L], rows[2]["generations"]!.AsArray().Select(x => (long)x!));
        Assert.False(Directory.Exists(dir.File("loc/png")));
        // the spatial means as detection scores, split for `deja eval`
        Assert.Equal(2, File.ReadAllLines(dir.File("loc/memorized.localize.jsonl")).Length);
        Assert.Single(File.ReadAllLines(dir.File("loc/nonmemorized.localize.jsonl")));
        var eval = Support.Deja.Run(dir.Path, "eval", "--positives", "loc/memorized.localize.jsonl", "--negatives", "loc/nonmemorized.localize.jsonl", "--bootstrap", "0", "--svg", "roc.svg");
        Assert.True(eval.ExitCode == 0, eval.ToString());
        Assert.Contains("score_diff", eval.Out);
    }

    [Fact]
    public void ExactProbesOnLargeLatentsAreRefusedBeforeAnyWork()
    {
        using var dir = new TempDir();
        var r = Support.Deja.Run(dir.Path, "localize", "--model", Repo.TinyPipeline("tiny-sd1"), "--prompt", "a cat", "--out", "loc", "--probes", "exact", "--image-size", "512");
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains("4096", Assert.Single(r.ErrorLines));
        Assert.False(Directory.Exists(dir.File("loc")) && Directory.EnumerateFileSystemEntries(dir.File("loc")).Any());
    }

    [Fact]
    public void ABadModelOfAnotherArchitectureIsOneClearLine()
    {
        using var dir = new TempDir();
        var r = Support.Deja.Run(dir.Path, "localize", "--model", Repo.TinyPipeline("tiny-sd1"), "--bad-model", Repo.TinyPipeline("tiny-sd2"), "--prompt", "a cat", "--out", "loc");
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains("θ̃ must be the same architecture", Assert.Single(r.ErrorLines));
    }

    [Fact]
    public void ABenchmarkWithoutRecordedSeedsIsRefused()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("bench"));
        File.WriteAllLines(dir.File("bench/replicate.jsonl"), ["""{"caption":"a red cat","kind":"verbatim","replicated_l2":true}"""]);
        File.WriteAllLines(dir.File("bench/memorized.txt"), ["a red cat"]);
        File.WriteAllLines(dir.File("bench/nonmemorized.txt"), ["a green bird"]);
        var r = Support.Deja.Run(dir.Path, "localize", "--model", Repo.TinyPipeline("tiny-sd1"), "--benchmark", "bench", "--out", "loc");
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains("run replicate again", Assert.Single(r.ErrorLines));
    }
}
