using System.Text.Json.Nodes;
using Deja.Cli.Tests.Support;

namespace Deja.Cli.Tests;

/// <summary>`deja judge train` and `deja judge eval` end to end: the folder written, the evaluation sets, refusals with one line.</summary>
public class JudgeCommandTests
{
    [Fact]
    public void TrainWritesAJudgeFolderThatEvalReads()
    {
        using var dir = new TempDir();
        var train = Support.Deja.Run(dir.Path, "judge", "train", "--out", "judge", "--steps", "3", "--batch", "4", "--eval-images", "20", "--seed", "5");
        Assert.True(train.ExitCode == 0, train.ToString());
        foreach (var f in new[] { "config.json", "model.safetensors", "README.md", "train_log.jsonl" }) Assert.True(File.Exists(Path.Combine(dir.Path, "judge", f)), f);
        Assert.Equal(3, File.ReadAllLines(Path.Combine(dir.Path, "judge", "train_log.jsonl")).Length);
        var readme = File.ReadAllText(Path.Combine(dir.Path, "judge", "README.md"));
        Assert.Contains("deja judge train --out judge --steps 3 --batch 4 --eval-images 20 --seed 5", readme);
        Assert.Contains("| position |", readme);
        Assert.Contains("position", train.Out); // the held-out table

        var eval = Support.Deja.Run(dir.Path, "judge", "eval", "--judge", "judge", "--synthetic", "30", "--memorized", "0", "--heldout", "0", "--json");
        Assert.True(eval.ExitCode == 0, eval.ToString());
        var sets = JsonNode.Parse(eval.Out)!.AsArray();
        var synthetic = Assert.Single(sets)!;
        Assert.Equal("synthetic", (string)synthetic["set"]!);
        Assert.Equal(30, (int)synthetic["images"]!);
        Assert.True((int)synthetic["attributes"]!["texture"]!["total"]! == 30);

        // the judge's own training seed is no held-out seed
        var same = Support.Deja.Run(dir.Path, "judge", "eval", "--judge", "judge", "--seed", "5", "--memorized", "0", "--heldout", "0");
        Assert.Equal(1, same.ExitCode);
        Assert.Contains("--seed 5 is the seed the judge was trained with", same.Error);
    }

    [Fact]
    public void ImagesFromAJsonlFileAreJudgedPerSetAndBadCaptionsAreRefused()
    {
        using var dir = new TempDir();
        Assert.Equal(0, Support.Deja.Run(dir.Path, "judge", "train", "--out", "judge", "--steps", "1", "--batch", "2", "--eval-images", "0").ExitCode);
        var synth = Support.Deja.Run(dir.Path, "synth", "--out", "synth", "--seed", "1", "--verbatim", "2", "--templates", "1", "--template-images", "2", "--diverse", "3", "--heldout", "1");
        Assert.True(synth.ExitCode == 0, synth.ToString());
        var eval = Support.Deja.Run(dir.Path, "judge", "eval", "--judge", "judge", "--synthetic", "0", "--memorized", "0", "--heldout", "0",
            "--images", "synth", "--verdicts", "verdicts.jsonl");
        Assert.True(eval.ExitCode == 0, eval.ToString());
        Assert.Contains("mean fidelity", eval.Out);
        var rows = File.ReadAllLines(Path.Combine(dir.Path, "verdicts.jsonl")).Select(l => JsonNode.Parse(l)!).ToArray();
        Assert.Equal(7, rows.Length); // 2 verbatim, 2 template, 3 diverse training images
        Assert.All(rows, r => Assert.InRange((double)r["fidelity"]!, 0, 1));

        File.WriteAllText(Path.Combine(dir.Path, "bad.jsonl"), "{\"caption\": \"a cat on a mat\", \"image\": \"synth/images/diverse_0000.png\"}\n");
        var bad = Support.Deja.Run(dir.Path, "judge", "eval", "--judge", "judge", "--synthetic", "0", "--memorized", "0", "--heldout", "0", "--images", "bad.jsonl");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("caption \"a cat on a mat\" cannot be parsed", bad.Error);
    }

    [Theory]
    [InlineData("train", "--out", "j", "--steps", "0")]
    [InlineData("train", "--out", "j", "--dtype", "f8")]
    [InlineData("train", "--out", "j", "--eval-seed", "0")]
    [InlineData("eval", "--judge", "nowhere", "--memorized", "0", "--heldout", "0")]
    [InlineData("eval", "--synthetic", "-1")]
    public void BadOptionsStopWithOneLine(params string[] args)
    {
        using var dir = new TempDir();
        var r = Support.Deja.Run(dir.Path, ["judge", .. args]);
        Assert.Equal(1, r.ExitCode);
        Assert.Single(r.ErrorLines);
        Assert.Empty(dir.Files());
    }
}
