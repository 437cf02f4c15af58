namespace Deja.Cli.Tests.Support;

/// <summary>A tiny synthetic dataset (16×16, ten images) made by deja synth, for train and replicate.</summary>
public static class Datasets
{
    public static string Synth(string folder)
    {
        var r = Deja.Run(Path.GetDirectoryName(folder)!, "synth", "--out", folder, "--size", "16", "--verbatim", "2", "--verbatim-repeats", "2",
            "--templates", "1", "--template-images", "2", "--diverse", "4", "--heldout", "2");
        Assert.True(r.ExitCode == 0, r.ToString());
        return folder;
    }
}
