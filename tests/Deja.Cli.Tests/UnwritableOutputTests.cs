using Deja.Cli.Tests.Support;

namespace Deja.Cli.Tests;

/// <summary>
/// Issue 12 §5: unwritable outputs ended in an unhandled exception and exit 134. Now: one "deja:" line,
/// exit 1, nothing written. The tests run as root, for whom a read-only folder is writable, so they use
/// paths nobody can write: under a regular file, in /proc, a folder where a file is expected, devices.
/// </summary>
public class UnwritableOutputTests
{
    static void AssertRefused(DejaResult r, string message)
    {
        Assert.True(r.ExitCode == 1, r.ToString());
        var line = Assert.Single(r.ErrorLines);
        Assert.StartsWith("deja: ", line);
        Assert.Contains(message, line);
        Assert.DoesNotContain("Unhandled", r.Error);
    }

    [Theory]
    [InlineData("folder", "is a folder; give a file name")]
    [InlineData("under-a-file", "is a file, not a folder")]
    [InlineData("/proc/scores.jsonl", "cannot create files in /proc")]
    [InlineData("/dev/null", "--out /dev/null is not a regular file (a character device)")]
    [InlineData("/dev/stdout", "--out /dev/stdout is not a regular file (a pipe)")]
    public void DetectOut(string where, string message)
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("file"), "");
        Directory.CreateDirectory(dir.File("folder"));
        var path = where switch { "folder" => dir.File("folder"), "under-a-file" => dir.File("file/scores.jsonl"), _ => where };
        AssertRefused(Support.Deja.Run(dir.Path, "detect", "--model", "analytic", "--out", path), message);
        Assert.Equal(["file"], dir.Files());
    }

    [Fact]
    public void BareDetectInAFolderThatTakesNoFiles()
    {
        var r = Support.Deja.Run("/proc", "detect");
        AssertRefused(r, "the default output folder (choose another with --out) deja-mini-detect: cannot create files in /proc");
    }

    [Theory]
    [InlineData("folder", "--svg")]
    [InlineData("under-a-file", "is a file, not a folder")]
    public void EvalSvg(string where, string message)
    {
        using var dir = new TempDir();
        ScoreFiles.Write(dir.File("mem.jsonl"), [0.9, 0.8, 0.7]);
        ScoreFiles.Write(dir.File("nonmem.jsonl"), [0.1, 0.2, 0.3], promptPrefix: "n");
        File.WriteAllText(dir.File("file"), "");
        Directory.CreateDirectory(dir.File("folder"));
        var svg = where == "folder" ? dir.File("folder") : dir.File("file/roc.svg");
        var r = Support.Deja.Run(dir.Path, "eval", "--positives", dir.File("mem.jsonl"), "--negatives", dir.File("nonmem.jsonl"), "--svg", svg, "--bootstrap", "0");
        AssertRefused(r, message);
        Assert.Equal("", r.Out); // no table before the refusal
    }

    [Fact]
    public void EvalSvgToDevNullWorks()
    {
        using var dir = new TempDir();
        ScoreFiles.Write(dir.File("mem.jsonl"), [0.9, 0.8, 0.7]);
        ScoreFiles.Write(dir.File("nonmem.jsonl"), [0.1, 0.2, 0.3], promptPrefix: "n");
        var r = Support.Deja.Run(dir.Path, "eval", "--positives", "mem.jsonl", "--negatives", "nonmem.jsonl", "--svg", "/dev/null", "--bootstrap", "0");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("ROC plot: /dev/null", r.Out);
    }

    [Theory]
    [InlineData("synth")]
    [InlineData("train")]
    [InlineData("replicate")]
    public void FolderOutputsUnderAFileOrInProc(string command)
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("file"), "");
        var data = Datasets.Synth(dir.File("data"));
        var before = dir.Files();
        foreach (var (outPath, message) in new[] { (dir.File("file/out"), "is a file, not a folder"), ("/proc/deja-out", "cannot create files in /proc") })
        {
            string[] args = command switch
            {
                "synth" => ["synth", "--out", outPath],
                "train" => ["train", "--data", data, "--out", outPath, "--config", "toy"],
                _ => ["replicate", "--model", Repo.TinyPipeline("tiny-sd1"), "--data", data, "--out", outPath],
            };
            AssertRefused(Support.Deja.Run(dir.Path, args), message);
        }
        Assert.Equal(before, dir.Files());
    }
}
