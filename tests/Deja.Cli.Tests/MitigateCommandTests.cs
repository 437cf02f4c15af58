using System.Text.Json.Nodes;
using Deja.Cli.Tests.Support;

namespace Deja.Cli.Tests;

/// <summary>`deja mitigate` end to end: rows per prompt and generation with the losses and scores,
/// readable images, resuming, refusing a changed run, bad input refused with one line.</summary>
public class MitigateCommandTests
{
    static JsonObject[] Rows(string dir) =>
        File.ReadAllLines(Path.Combine(dir, "out", "mitigate.jsonl")).Select(l => JsonNode.Parse(l)!.AsObject()).ToArray();

    [Fact]
    public void PromptMitigationWritesARowPerGenerationAndResumes()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir.File("prompts.txt"), ["a cat on a mat", "an astronaut riding a horse"]);
        string[] args = ["mitigate", "--model", Repo.TinyPipeline("tiny-sd1"), "--prompts", "prompts.txt", "--n", "2", "--steps", "4",
            "--iterations", "2", "--out", "out"];
        var r = Support.Deja.Run(dir.Path, args);
        Assert.True(r.ExitCode == 0, r.ToString());
        var rows = Rows(dir.Path);
        Assert.Equal(4, rows.Length);
        Assert.Equal([0, 0, 1, 1], rows.Select(o => (int)o["index"]!));
        Assert.Equal([0, 1, 0, 1], rows.Select(o => (int)o["generation"]!));
        Assert.Equal([0L, 0L, 1L, 1L], rows.Select(o => (long)o["seed"]!)); // Wen's policy: prompt index + seed 0
        foreach (var row in rows)
        {
            Assert.Equal("prompt", (string)row["method"]!);
            Assert.Equal(2, row["losses"]!.AsArray().Count);
            Assert.Equal(2, (int)row["updates"]!);
            Assert.True(row["score_before"] is not null && row["score_after"] is not null);
            Assert.True(File.Exists(Path.Combine(dir.Path, "out", (string)row["image"]!)));
        }
        Assert.NotEqual((double)rows[0]["score_before"]!, (double)rows[0]["score_after"]!);

        var again = Support.Deja.Run(dir.Path, args);
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Contains("resuming after 2", again.Error);
        Assert.Equal(4, Rows(dir.Path).Length);

        var changed = Support.Deja.Run(dir.Path, [.. args, "--lr", "0.1"]);
        Assert.Equal(1, changed.ExitCode);
        Assert.Contains("other parameters", changed.Error);
    }

    [Fact]
    public void ARunKilledMidWriteResumesAfterItsLastWholePromptWithTheSameRows()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir.File("prompts.txt"), ["a cat on a mat", "an astronaut riding a horse"]);
        string[] args = ["mitigate", "--model", Repo.TinyPipeline("tiny-sd1"), "--prompts", "prompts.txt", "--n", "2", "--steps", "3",
            "--iterations", "1", "--out", "out"];
        var r = Support.Deja.Run(dir.Path, args);
        Assert.True(r.ExitCode == 0, r.ToString());
        string path = Path.Combine(dir.Path, "out", "mitigate.jsonl");
        var whole = File.ReadAllLines(path);
        Assert.Equal(4, whole.Length);

        // What a kill during prompt 1's append leaves: its first row whole, its second cut in the middle.
        File.WriteAllText(path, whole[0] + "\n" + whole[1] + "\n" + whole[2] + "\n" + whole[3][..40]);
        var again = Support.Deja.Run(dir.Path, args);
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Contains("a partial line of 40 bytes, 1 row(s) of an unfinished prompt); removed", again.Error);
        Assert.Contains("resuming after 1 complete prompt", again.Error);
        var resumed = Rows(dir.Path);
        Assert.Equal([0, 0, 1, 1], resumed.Select(o => (int)o["index"]!));
        Assert.Equal([0, 1, 0, 1], resumed.Select(o => (int)o["generation"]!));
        // prompt 1 generated again from the same noise: the same losses and scores (seconds aside)
        for (int i = 0; i < 4; i++)
        {
            var before = JsonNode.Parse(whole[i])!.AsObject();
            before.Remove("seconds"); resumed[i].Remove("seconds");
            Assert.Equal(before.ToJsonString(), resumed[i].ToJsonString());
        }

        // A complete row that only lacks its newline (a hand edit) is kept, and the file is whole again.
        File.WriteAllText(path, string.Join("\n", whole));
        var kept = Support.Deja.Run(dir.Path, args);
        Assert.True(kept.ExitCode == 0, kept.ToString());
        Assert.Contains("resuming after 2", kept.Error);
        Assert.DoesNotContain("interrupted", kept.Error);
        Assert.Equal(4, File.ReadAllLines(path).Length);
        Assert.EndsWith("\n", File.ReadAllText(path));
    }

    [Fact]
    public void APromptThatNeverReachesItsTargetIsReturnedFlaggedAndCountedAsNotConverged()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir.File("prompts.txt"), ["a cat on a mat", "an astronaut riding a horse"]);
        // target 0: no loss (a norm of a non-zero difference) reaches it, so both run all their updates
        var r = Support.Deja.Run(dir.Path, "mitigate", "--model", Repo.TinyPipeline("tiny-sd1"), "--prompts", "prompts.txt", "--n", "1",
            "--steps", "2", "--iterations", "1", "--target-loss", "0", "--no-score", "--out", "out");
        Assert.True(r.ExitCode == 0, r.ToString());
        var rows = Rows(dir.Path);
        Assert.Equal(2, rows.Length);
        Assert.All(rows, row => Assert.False((bool)row["stop_criterion_met"]!));
        Assert.All(rows, row => Assert.True(File.Exists(Path.Combine(dir.Path, "out", (string)row["image"]!))));
        Assert.Contains("stop criterion met by 0 of 2, not converged: 2 (prompt index 0, 1;", r.Error);

        // a target every prompt meets at the start: met by all, none listed
        var met = Support.Deja.Run(dir.Path, "mitigate", "--model", Repo.TinyPipeline("tiny-sd1"), "--prompts", "prompts.txt", "--n", "1",
            "--steps", "2", "--iterations", "1", "--target-loss", "1e9", "--no-score", "--out", "met");
        Assert.True(met.ExitCode == 0, met.ToString());
        Assert.Contains("stop criterion met by 2 of 2;", met.Error);
        Assert.DoesNotContain("not converged", met.Error);
    }

    [Fact]
    public void RandomTokensRecordTheChangedPromptAndNoneEqualsPlainGeneration()
    {
        using var dir = new TempDir();
        var r = Support.Deja.Run(dir.Path, "mitigate", "--model", Repo.TinyPipeline("tiny-sd1"), "--prompt", "a red apple", "--n", "1",
            "--steps", "3", "--method", "random-tokens", "--repeat", "2", "--out", "out", "--json");
        Assert.True(r.ExitCode == 0, r.ToString());
        var row = Rows(dir.Path).Single();
        var changedPrompt = (string)row["changed_prompt"]!;
        Assert.Equal(5, changedPrompt.Split(' ').Length);
        Assert.Empty(row["losses"]!.AsArray());
        Assert.Contains("\"changed_prompt\"", r.Out);

        var none = Support.Deja.Run(dir.Path, "mitigate", "--model", Repo.TinyPipeline("tiny-sd1"), "--prompt", "a red apple", "--n", "1",
            "--steps", "3", "--method", "none", "--out", "plain");
        Assert.True(none.ExitCode == 0, none.ToString());
        var plain = JsonNode.Parse(File.ReadAllLines(Path.Combine(dir.Path, "plain", "mitigate.jsonl")).Single())!.AsObject();
        Assert.Equal((double)plain["score_before"]!, (double)plain["score_after"]!);
        Assert.True(plain["changed_prompt"] is null);
    }

    [Fact]
    public void SailReplacesTheNoiseAndRecordsTheAcceptedLosses()
    {
        using var dir = new TempDir();
        var r = Support.Deja.Run(dir.Path, "mitigate", "--model", Repo.TinyPipeline("tiny-sd1"), "--prompt", "a red apple", "--n", "2",
            "--steps", "3", "--method", "sail", "--budget", "2", "--sail-steps", "2", "--max-rounds", "1", "--accept-threshold", "-1000", "--out", "out");
        Assert.True(r.ExitCode == 0, r.ToString());
        var rows = Rows(dir.Path);
        Assert.Equal(2, rows.Length);
        Assert.Equal("sail", (string)rows[0]["method"]!);
        Assert.Equal(2, rows[0]["losses"]!.AsArray().Count);
        Assert.False((bool)rows[0]["stop_criterion_met"]!); // never accepted: the fallback filled both slots
        Assert.Equal(-1000.0, (double)rows[0]["parameters"]!["sail"]!["accept_threshold"]!);
    }

    [Theory]
    [InlineData("--n", "0", "--n must be at least 1")]
    [InlineData("--lr", "-1", "learning rate")]
    [InlineData("--method", "magic", "unknown method")]
    [InlineData("--kind", "shuffle", "random-token kind")]
    [InlineData("--budget", "0", "--budget must be at least 1")]
    [InlineData("--sail-steps", "0", "--sail-steps must be at least 1")]
    public void BadInputIsRefusedWithOneLine(string option, string value, string message)
    {
        using var dir = new TempDir();
        var r = Support.Deja.Run(dir.Path, "mitigate", "--model", Repo.TinyPipeline("tiny-sd1"), "--prompt", "a cat", "--out", "out", option, value);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(message, r.Error);
        Assert.False(File.Exists(Path.Combine(dir.Path, "out", "mitigate.jsonl")));
    }
}

/// <summary>`deja generate --mitigate/--guard`: mitigation on the generation's own noise, the guard's
/// verdict on both sides of its threshold, and the refusals.</summary>
public class GuardedGenerateTests
{
    [Fact]
    public void TheGuardMitigatesOnlyAboveItsThresholdAndOtherwiseGeneratesPlainly()
    {
        using var dir = new TempDir();
        string[] common = ["generate", "--model", Repo.TinyPipeline("tiny-sd1"), "--prompt", "a red apple", "--seed", "3", "--steps", "4"];
        var plain = Support.Deja.Run(dir.Path, [.. common, "--out", "plain.png"]);
        Assert.True(plain.ExitCode == 0, plain.ToString());
        var passed = Support.Deja.Run(dir.Path, [.. common, "--out", "passed.png", "--guard", "--guard-threshold", "1e9"]);
        Assert.True(passed.ExitCode == 0, passed.ToString());
        Assert.Contains("not flagged", passed.Out);
        var flagged = Support.Deja.Run(dir.Path, [.. common, "--out", "flagged.png", "--guard", "--guard-threshold", "-1e9", "--mitigate", "prompt"]);
        Assert.True(flagged.ExitCode == 0, flagged.ToString());
        Assert.Contains("flagged, mitigated with prompt", flagged.Out);

        var a = global::Deja.Diffusion.Images.Png.Read(dir.File("plain.png")).Pixels;
        var b = global::Deja.Diffusion.Images.Png.Read(dir.File("passed.png")).Pixels;
        var c = global::Deja.Diffusion.Images.Png.Read(dir.File("flagged.png")).Pixels;
        Assert.True(a.Zip(b).All(p => Math.Abs(p.First - p.Second) <= 1), "an unflagged prompt is generated as plain generate does (within rounding)");
        Assert.True(a.Zip(c).Count(p => p.First != p.Second) > a.Length / 10, "a flagged prompt's image changes");
    }

    [Theory]
    [InlineData(new[] { "--guard" }, "needs one threshold")]
    [InlineData(new[] { "--guard-threshold", "1" }, "belong to --guard")]
    [InlineData(new[] { "--mitigate", "prompt", "--eta", "0.5" }, "--eta cannot be combined")]
    [InlineData(new[] { "--mitigate", "magic" }, "unknown method")]
    public void BadGuardOptionsAreRefusedWithOneLine(string[] extra, string message)
    {
        using var dir = new TempDir();
        var r = Support.Deja.Run(dir.Path, ["generate", "--model", Repo.TinyPipeline("tiny-sd1"), "--prompt", "a cat", "--seed", "1", "--out", "x.png", .. extra]);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains(message, r.Error);
        Assert.False(File.Exists(dir.File("x.png")));
    }
}
