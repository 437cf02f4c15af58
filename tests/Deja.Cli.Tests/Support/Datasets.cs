namespace Deja.Cli.Tests.Support;

/// <summary>Tiny synthetic datasets made by deja synth: for train and replicate, and for measuring the tiny pipelines' generations.</summary>
public static class Datasets
{
    public static string Synth(string folder)
    {
        var r = Deja.Run(Path.GetDirectoryName(folder)!, "synth", "--out", folder, "--size", "16", "--verbatim", "2", "--verbatim-repeats", "2",
            "--templates", "1", "--template-images", "2", "--diverse", "4", "--heldout", "2");
        Assert.True(r.ExitCode == 0, r.ToString());
        return folder;
    }

    /// <summary>
    /// A 64×64 dataset (the tiny pipelines' image size) in DIR/synth with <paramref name="verbatim"/> verbatim
    /// captions, which are written to DIR/prompts.txt and returned: prompts whose generations
    /// mitigate-summary and sweeps can measure against the set.
    /// </summary>
    public static List<string> Synth64WithVerbatimPrompts(TempDir dir, int verbatim)
    {
        var synth = Deja.Run(dir.Path, "synth", "--out", "synth", "--size", "64", "--verbatim", verbatim.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--verbatim-repeats", "1", "--templates", "1", "--template-images", "2", "--diverse", "2", "--heldout", "1");
        Assert.True(synth.ExitCode == 0, synth.ToString());
        var captions = File.ReadLines(dir.File("synth/captions.jsonl")).Select(l => System.Text.Json.Nodes.JsonNode.Parse(l)!.AsObject())
            .Where(r => (string)r["kind"]! == "verbatim").Select(r => (string)r["caption"]!).Distinct().ToList();
        File.WriteAllLines(dir.File("prompts.txt"), captions);
        return captions;
    }
}
