using Deja.Cli.Tests.Support;

namespace Deja.Cli.Tests;

/// <summary>Issue 12 §5: eval questions inputs that cannot measure memorization, and its headline TPR reads right for a perfect detector.</summary>
public class EvalInputTests
{
    static string[] Eval(params string[] files) => ["eval", "--bootstrap", "0", "--svg", "roc.svg", .. files];

    [Fact]
    public void ScoresOfDifferentModelsAreRefusedNamingThemAndAllowedWithAllowMixed()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir.File("mem.txt"), ["a cat", "a dog"]);
        File.WriteAllLines(dir.File("nonmem.txt"), ["a car", "a tree"]);
        foreach (var (model, prompts) in new[] { ("tiny-sd1", "mem"), ("tiny-sd2", "nonmem") })
        {
            var d = Support.Deja.Run(dir.Path, "detect", "--model", Repo.TinyPipeline(model), "--prompts", $"{prompts}.txt", "--out", $"{prompts}.jsonl");
            Assert.True(d.ExitCode == 0, d.ToString());
        }

        var refused = Support.Deja.Run(dir.Path, Eval("--positives", "mem.jsonl", "--negatives", "nonmem.jsonl"));
        Assert.True(refused.ExitCode == 1, refused.ToString());
        var line = Assert.Single(refused.ErrorLines);
        Assert.StartsWith("deja: eval: mem.jsonl (positives) and nonmem.jsonl (negatives) were scored by different models: tiny-sd1 (id ", line);
        Assert.Contains("vs tiny-sd2 (id ", line);
        Assert.EndsWith("Pass --allow-mixed to evaluate them anyway", line);
        Assert.Equal("", refused.Out);
        Assert.False(File.Exists(dir.File("roc.svg")));

        var allowed = Support.Deja.Run(dir.Path, [.. Eval("--positives", "mem.jsonl", "--negatives", "nonmem.jsonl"), "--allow-mixed"]);
        Assert.True(allowed.ExitCode == 0, allowed.ToString());
        Assert.Contains("warning: mem.jsonl (positives) and nonmem.jsonl (negatives) were scored by different models", allowed.Out);
    }

    [Fact]
    public void DifferentParametersAreNamedWithTheFirstDifference()
    {
        using var dir = new TempDir();
        ScoreFiles.Write(dir.File("mem.jsonl"), [0.9, 0.8], paramsJson: "{\"noise\":{\"seed\":51}}");
        ScoreFiles.Write(dir.File("nonmem.jsonl"), [0.1, 0.2], promptPrefix: "n", paramsJson: "{\"noise\":{\"seed\":52}}");
        var r = Support.Deja.Run(dir.Path, Eval("--positives", "mem.jsonl", "--negatives", "nonmem.jsonl"));
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains("were scored with different parameters (noise.seed: 51 → 52)", Assert.Single(r.ErrorLines));
    }

    [Fact]
    public void TheSameFileOnBothSidesOrTwiceIsRefused()
    {
        using var dir = new TempDir();
        ScoreFiles.Write(dir.File("mem.jsonl"), [0.9, 0.8]);
        ScoreFiles.Write(dir.File("nonmem.jsonl"), [0.1, 0.2], promptPrefix: "n");
        File.Copy(dir.File("mem.jsonl"), dir.File("copy.jsonl"));

        var both = Support.Deja.Run(dir.Path, Eval("--positives", "mem.jsonl", "--negatives", "mem.jsonl"));
        Assert.True(both.ExitCode == 1, both.ToString());
        Assert.Contains("deja: eval: mem.jsonl is given as both positives and negatives", Assert.Single(both.ErrorLines));

        var twice = Support.Deja.Run(dir.Path, Eval("--positives", "mem.jsonl", "mem.jsonl", "--negatives", "nonmem.jsonl"));
        Assert.True(twice.ExitCode == 1, twice.ToString());
        Assert.Contains("deja: eval: mem.jsonl is given twice among the positives", Assert.Single(twice.ErrorLines));

        var copy = Support.Deja.Run(dir.Path, Eval("--positives", "mem.jsonl", "--negatives", "nonmem.jsonl", "copy.jsonl"));
        Assert.True(copy.ExitCode == 1, copy.ToString());
        Assert.Contains("deja: eval: mem.jsonl and copy.jsonl have the same content, given as both positives and negatives", Assert.Single(copy.ErrorLines));
    }

    [Fact]
    public void APerfectDetectorHeadlinesTpr1AndKeepsTheReferenceDefinitionsLabelled()
    {
        using var dir = new TempDir();
        ScoreFiles.Write(dir.File("mem.jsonl"), [.. Enumerable.Range(0, 50).Select(i => 10.0 + i)]);
        ScoreFiles.Write(dir.File("nonmem.jsonl"), [.. Enumerable.Range(0, 150).Select(i => i / 100.0)], promptPrefix: "n");
        var r = Support.Deja.Run(dir.Path, Eval("--positives", "mem.jsonl", "--negatives", "nonmem.jsonl"));
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Out.Split('\n');
        Assert.Equal(["column", "n+/n−", "AUC", "TPR@1%FPR", "TPR@3%FPR", "ACC", "closest@1%", "closest@3%", "below@1%"],
            lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["score", "50/150", "1.000", "1.000", "1.000", "1.000", "0.000", "0.000", "1.000"],
            lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("TPR@1%FPR, TPR@3%FPR: TPR at the largest ROC FPR ≤ the target", r.Out);

        var json = Support.Deja.Run(dir.Path, [.. Eval("--positives", "mem.jsonl", "--negatives", "nonmem.jsonl"), "--json"]);
        foreach (var name in new[] { "tpr_at_1_at_most", "tpr_at_3_at_most", "tpr_at_1_closest", "tpr_at_3_closest", "tpr_at_1_last_below", "tpr_at_3_last_below" })
            Assert.Contains($"\"{name}\"", json.Out);
    }
}
