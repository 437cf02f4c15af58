using Deja.Cli.Tests.Support;

namespace Deja.Cli.Tests;

/// <summary>Issue 12 §5 "messages": what the help promises and what an error advises exist.</summary>
public class HelpAndHintTests
{
    [Fact]
    public void GenerateHelpSaysThatSeedOrLatentsIsRequired()
    {
        using var dir = new TempDir();
        var help = Support.Deja.Run(dir.Path, "generate", "--help").Out;
        Assert.Contains("the initial noise comes from --seed or --latents, one of them is required", help);
        Assert.Contains("give --seed or --latents", help);
        Assert.Contains("give --latents or --seed", help);
    }

    [Fact]
    public void ReplicateHasTheSkipBadItAdvises()
    {
        using var dir = new TempDir();
        var data = Datasets.Synth(dir.File("data"));
        var trained = Support.Deja.Run(dir.Path, "train", "--data", data, "--out", "model", "--config", "toy", "--steps", "2", "--batch", "2", "--warmup", "1");
        Assert.True(trained.ExitCode == 0, trained.ToString());
        var broken = Directory.GetFiles(Path.Combine(data, "images"), "*.png").Order().First();
        File.WriteAllText(broken, "not a png");

        string[] replicate = ["replicate", "--model", "model", "--data", data, "--out", "replicated", "--n", "1", "--steps", "2", "--templates-per-brand", "1"];
        var refused = Support.Deja.Run(dir.Path, replicate);
        Assert.True(refused.ExitCode == 1, refused.ToString());
        Assert.Contains("pass --skip-bad to leave these out", refused.ErrorLines[^1]);

        var skipped = Support.Deja.Run(dir.Path, [.. replicate, "--skip-bad"]);
        Assert.True(skipped.ExitCode == 0, skipped.ToString());
        Assert.Contains("deja replicate: left out 1 unreadable PNGs", skipped.Error);
        Assert.True(File.Exists(dir.File("replicated/replicate.json")));
    }
}
