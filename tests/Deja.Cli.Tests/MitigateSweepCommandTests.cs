using System.Text.Json.Nodes;
using Deja.Cli.Tests.Support;
using Deja.Memorization.Fidelity;

namespace Deja.Cli.Tests;

/// <summary>`deja mitigate --sweep` end to end on the tiny SD1 pipeline: the baseline and each strength get a
/// sub-run folder and a table row, the summaries are written, a rerun resumes every point, and bad
/// combinations of options are refused with one line.</summary>
public class MitigateSweepCommandTests
{
    [Fact]
    public void SweepWritesAPointPerStrengthAndResumes()
    {
        using var dir = new TempDir();
        // the tiny pipeline makes 64×64 images: a dataset and a (random, untrained) judge of that size
        var captions = Datasets.Synth64WithVerbatimPrompts(dir, 2);
        var config = new JudgeConfig { ImageSize = 64, Channels = [8, 8, 8], Strides = [2, 2, 2], CellChannels = 8, BackgroundHidden = 8 };
        CaptionJudge.Save(new JudgeNetwork(config, new global::Deja.Tensors.Generator(1)), dir.File("judge"), new Dictionary<string, string>(), "test judge\n");
        string[] args = ["mitigate", "--model", Repo.TinyPipeline("tiny-sd1"), "--prompts", "prompts.txt", "--n", "1", "--steps", "2", "--no-score",
            "--sweep", "random-tokens:1,3", "--data", "synth", "--judge", "judge", "--out", "sweep"];
        var r = Support.Deja.Run(dir.Path, args);
        Assert.True(r.ExitCode == 0, r.ToString());
        var table = r.Out.Split('\n').Select(l => l.Trim()).ToList();
        Assert.Contains(table, l => l.StartsWith("none ", StringComparison.Ordinal));
        Assert.Contains(table, l => l.StartsWith("random-tokens      repeat 1", StringComparison.Ordinal));
        Assert.Contains(table, l => l.StartsWith("random-tokens      repeat 3", StringComparison.Ordinal));
        foreach (var point in new[] { "none", "random-tokens-1", "random-tokens-3" })
        {
            Assert.Equal(captions.Count, File.ReadAllLines(dir.File($"sweep/{point}/mitigate.jsonl")).Length);
            Assert.True(File.Exists(dir.File($"sweep/{point}/point.json")));
        }
        var rows = File.ReadAllLines(dir.File("sweep/sweep.jsonl")).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        Assert.Equal(["none", "random-tokens", "random-tokens"], rows.Select(o => (string)o["method"]!));
        Assert.Equal([null, 1.0, 3.0], rows.Select(o => (double?)o["strength"]));
        Assert.Equal(4, File.ReadAllLines(dir.File("sweep/sweep.csv")).Length); // header + 3 points
        Assert.Contains("data-method=\"random-tokens\"", File.ReadAllText(dir.File("sweep/sweep.svg")));

        // mitigate-summary measures the same folders to the same numbers, and adds intervals around them
        var summary = Support.Deja.Run(dir.Path, "mitigate-summary", "sweep/none", "sweep/random-tokens-3", "--data", "synth", "--judge", "judge", "--json");
        Assert.True(summary.ExitCode == 0, summary.ToString());
        var measured = summary.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        Assert.Equal(2, measured.Count);
        foreach (var (m, row) in measured.Zip(new[] { rows[0], rows[2] }))
        {
            foreach (var key in new[] { "method", "prompts", "n", "replicated_l2", "replicated_ssim", "median_nearest_l2", "fidelity" })
                Assert.Equal(row[key]!.ToJsonString(), m[key]!.ToJsonString());
            double low = (double)m["fidelity_ci"]!["low"]!, high = (double)m["fidelity_ci"]!["high"]!, f = (double)m["fidelity"]!;
            Assert.True(low <= f + 1e-9 && f <= high + 1e-9, m.ToJsonString());
        }
        var markdown = Support.Deja.Run(dir.Path, "mitigate-summary", "sweep/none", "--data", "synth", "--no-fidelity");
        Assert.True(markdown.ExitCode == 0, markdown.ToString());
        Assert.StartsWith("| folder | method |", markdown.Out);
        Assert.Contains("| none | none | ", markdown.Out);
        var notAFolder = Support.Deja.Run(dir.Path, "mitigate-summary", "synth", "--data", "synth");
        Assert.Equal(1, notAFolder.ExitCode);
        Assert.Contains("has no mitigate.jsonl", notAFolder.Error);

        string csv = File.ReadAllText(dir.File("sweep/sweep.csv"));
        var again = Support.Deja.Run(dir.Path, args);
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Equal(csv, File.ReadAllText(dir.File("sweep/sweep.csv"))); // measured from the same files: the same numbers, seconds included
        Assert.Equal(captions.Count, File.ReadAllLines(dir.File("sweep/random-tokens-3/mitigate.jsonl")).Length); // nothing run twice
    }

    [Theory]
    [InlineData("--method", "prompt", "either --method")]
    [InlineData("--limit", "1", "--sweep needs --data")]
    public void BadSweepOptionsAreRefused(string option, string value, string message)
    {
        using var dir = new TempDir();
        var r = Support.Deja.Run(dir.Path, "mitigate", "--model", Repo.TinyPipeline("tiny-sd1"), "--prompt", "a cat", "--sweep", "prompt:1", "--out", "out", option, value);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(message, r.Error);
        var data = Support.Deja.Run(dir.Path, "mitigate", "--model", Repo.TinyPipeline("tiny-sd1"), "--prompt", "a cat", "--data", "synth", "--out", "out2");
        Assert.Equal(1, data.ExitCode);
        Assert.Contains("belong to --sweep", data.Error);
        var bad = Support.Deja.Run(dir.Path, "mitigate", "--model", Repo.TinyPipeline("tiny-sd1"), "--prompt", "a cat", "--sweep", "random-tokens:0.5", "--data", "synth", "--out", "out3");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("whole number", bad.Error);
    }

    [Theory]
    [InlineData("--config", "sd3", "must be sd1 or mini")]
    [InlineData("--n", "0", "--n must be at least 1")]
    [InlineData("--sail-budget", "0", "--sail-budget must be at least 1")]
    public void BenchMitigateRefusesBadOptionsBeforeBuildingAModel(string option, string value, string message)
    {
        using var dir = new TempDir();
        var r = Support.Deja.Run(dir.Path, "bench", "mitigate", option, value);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(message, r.Error);
    }
}
