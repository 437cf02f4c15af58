using Deja.Cli.Tests.Support;
using Deja.Memorization.Evaluation;

namespace Deja.Cli.Tests;

/// <summary>Issue 12 §5 "messages", the detect cases: each message names what the user did or can change.</summary>
public class DetectMessageTests
{
    [Fact]
    public void RowsBeyondTheLimitOfAResumedRunAreKeptNotBlamed()
    {
        using var dir = new TempDir();
        var full = Support.Deja.Run(dir.Path, "detect", "--model", "analytic", "--out", "scores.jsonl");
        Assert.True(full.ExitCode == 0, full.ToString());

        var limited = Support.Deja.Run(dir.Path, "detect", "--model", "analytic", "--out", "scores.jsonl", "--limit", "5");
        Assert.True(limited.ExitCode == 0, limited.ToString());
        Assert.Contains("5 already in scores.jsonl (and 35 beyond --limit 5, kept), 0 to score", limited.Error);
        Assert.Contains("nothing to do", limited.Error);
        Assert.DoesNotContain("not prompt", limited.Error);
        Assert.Equal(40, ScoresFile.Read(dir.File("scores.jsonl")).Count);
    }

    [Fact]
    public void DuplicatedRowsInTheOutFileAreRefused()
    {
        using var dir = new TempDir();
        Assert.Equal(0, Support.Deja.Run(dir.Path, "detect", "--model", "analytic", "--out", "scores.jsonl", "--limit", "24").ExitCode);
        // 27 rows for 24 prompts, as after a resume that appended a copy of three rows.
        var lines = File.ReadAllLines(dir.File("scores.jsonl"));
        File.AppendAllLines(dir.File("scores.jsonl"), lines[3..6]);

        var r = Support.Deja.Run(dir.Path, "detect", "--model", "analytic", "--out", "scores.jsonl", "--limit", "24");
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains("deja: scores.jsonl has 27 rows but 24 prompts: 3 duplicated row(s), e.g. prompt 3", r.ErrorLines[^1]);
        Assert.Contains("remove the duplicates or use another --out", r.ErrorLines[^1]);
        Assert.Equal(27, File.ReadAllLines(dir.File("scores.jsonl")).Length); // untouched
    }

    [Fact]
    public void ARowOfAnotherPromptListIsNamedWithBothPrompts()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir.File("a.txt"), ["a cat", "a dog"]);
        File.WriteAllLines(dir.File("b.txt"), ["a cat", "a bird"]);
        var pipeline = Repo.TinyPipeline("tiny-sd1");
        Assert.Equal(0, Support.Deja.Run(dir.Path, "detect", "--model", pipeline, "--prompts", "a.txt", "--out", "s.jsonl").ExitCode);
        var r = Support.Deja.Run(dir.Path, "detect", "--model", pipeline, "--prompts", "b.txt", "--out", "s.jsonl");
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Equal("deja: s.jsonl has a row for prompt 1 (\"a dog\"), but prompt 1 of b.txt is \"a bird\"; the file was scored on another prompt list: use another --out", r.ErrorLines[^1]);
    }

    [Fact]
    public void NegativeGuidanceIsRefusedAsGenerateRefusesIt()
    {
        using var dir = new TempDir();
        var r = Support.Deja.Run(dir.Path, "detect", "--model", "analytic", "--method", "magnitude", "--guidance", "-5", "--out", "s.jsonl");
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Equal("deja: magnitude: --guidance must be a finite number ≥ 0, got -5", Assert.Single(r.ErrorLines));
        Assert.False(File.Exists(dir.File("s.jsonl")) && new FileInfo(dir.File("s.jsonl")).Length > 0);
    }

    [Theory]
    [InlineData("anisotropy")]
    [InlineData("magnitude")]
    [InlineData("sharpness")]
    [InlineData("bright-ending")]
    public void ASchedulerWithFewerTimestepsThanTheDetectorsStepsIsNamed(string method)
    {
        using var dir = new TempDir();
        var model = Repo.CopyPipeline("tiny-sd1", dir.File("short-schedule"),
            config => System.Text.RegularExpressions.Regex.Replace(config, "\"num_train_timesteps\": *\\d+", "\"num_train_timesteps\": 20"));
        File.WriteAllLines(dir.File("p.txt"), ["a cat"]);
        var r = Support.Deja.Run(dir.Path, "detect", "--model", model, "--prompts", "p.txt", "--method", method, "--out", "s.jsonl");
        Assert.True(r.ExitCode == 1, r.ToString());
        var line = r.ErrorLines[^1];
        Assert.Contains($"{method}: the model short-schedule has a scheduler with 20 training timesteps (num_train_timesteps in its scheduler config), fewer than the 50 DDIM steps", line);
        Assert.DoesNotContain("Parameter 'steps'", line);
    }

    [Fact]
    public void GenerateWithTheDefaultStepsOnAShortScheduleNamesTheOptionAndTheLimit()
    {
        using var dir = new TempDir();
        var model = Repo.CopyPipeline("tiny-sd1", dir.File("short-schedule"),
            config => System.Text.RegularExpressions.Regex.Replace(config, "\"num_train_timesteps\": *\\d+", "\"num_train_timesteps\": 20"));
        var r = Support.Deja.Run(dir.Path, "generate", "--model", model, "--prompt", "a cat", "--seed", "1", "--out", "x.png");
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Equal("deja: generate: 50 DDIM steps (--steps, default 50) are more than the model's scheduler has training timesteps " +
                     "(20, num_train_timesteps in scheduler/scheduler_config.json); give --steps 20 or fewer", Assert.Single(r.ErrorLines));
    }
}
