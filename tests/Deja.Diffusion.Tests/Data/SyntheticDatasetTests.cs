using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Deja.Diffusion.Data;
using Deja.Diffusion.Images;
using Deja.Diffusion.Training;
using Deja.Tensors;

namespace Deja.Diffusion.Tests.Data;

public class SyntheticDatasetTests
{
    static readonly SynthOptions Small = new() { Size = 16, Verbatim = 3, VerbatimRepeats = 7, Templates = 2, TemplateImages = 4, Diverse = 12, Heldout = 6 };

    static string Make(ulong seed, SynthOptions? options = null)
    {
        var dir = Path.Combine(Path.GetTempPath(), "deja-synth-" + Guid.NewGuid().ToString("N"));
        SyntheticDataset.Create(dir, seed, options ?? Small);
        return dir;
    }

    static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    [Fact]
    public void SameSeedSameBytesOtherSeedOtherData()
    {
        string a = Make(5), b = Make(5), c = Make(6);
        try
        {
            foreach (var f in new[] { "captions.jsonl", "heldout.jsonl", "images/verbatim_001.png", "images/acme_002.png", "masks/zenith.png" })
                Assert.Equal(Hash(Path.Combine(a, f)), Hash(Path.Combine(b, f)));
            Assert.NotEqual(Hash(Path.Combine(a, "captions.jsonl")), Hash(Path.Combine(c, "captions.jsonl")));
            Assert.True(File.Exists(Path.Combine(a, "synth.json")));
            Assert.Empty(Directory.GetDirectories(Path.GetTempPath(), ".deja-synth-*.tmp-*"));
        }
        finally { foreach (var d in new[] { a, b, c }) Directory.Delete(d, true); }
    }

    [Fact]
    public void PlantedSetsAreWhatTheyClaim()
    {
        var dir = Make(1);
        try
        {
            var rows = File.ReadLines(Path.Combine(dir, "captions.jsonl")).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
            Assert.Equal(3 + 2 * 4 + 12, rows.Count);
            Assert.All(rows.Where(r => (string)r["kind"]! == "verbatim"), r => Assert.Equal(7, (int)r["repeats"]!));
            var training = rows.Select(r => (string)r["caption"]!).ToHashSet();
            Assert.Equal(rows.Count, training.Count); // every training caption is unique
            var heldout = File.ReadAllLines(Path.Combine(dir, "heldout.txt"));
            Assert.Equal(6, heldout.Length);
            Assert.DoesNotContain(heldout, training.Contains);
            Assert.Equal(rows.Where(r => (string)r["kind"]! == "verbatim").Select(r => (string)r["caption"]!), File.ReadAllLines(Path.Combine(dir, "memorized_verbatim.txt")));

            // a brand's images share the template inside its mask and differ outside it
            var acme = rows.Where(r => (string?)r["brand"] == "acme").ToList();
            Assert.All(acme, r => Assert.EndsWith("with the acme logo", (string)r["caption"]!));
            var mask = SyntheticDataset.ReadMask(Path.Combine(dir, (string)acme[0]["mask"]!));
            Assert.Equal(SyntheticDataset.RegionMask("top-left", 16), mask);
            var images = acme.Select(r => Png.Read(Path.Combine(dir, (string)r["file"]!))).ToList();
            int differentOutside = 0;
            for (int p = 0; p < 256; p++)
                for (int ch = 0; ch < 3; ch++)
                {
                    var values = images.Select(im => im.Pixels[3 * p + ch]).Distinct().Count();
                    if (mask[p]) Assert.Equal(1, values);
                    else if (values > 1) differentOutside++;
                }
            Assert.True(differentOutside > 100);

            // and the folder is a valid training set
            var data = CaptionedImageFolder.Load(dir, 16);
            Assert.Equal(rows.Count, data.Examples.Count);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void RefusesANonEmptyFolderWithoutForce()
    {
        var dir = Make(2);
        try
        {
            Assert.Throws<IOException>(() => SyntheticDataset.Create(dir, 3, Small));
            SyntheticDataset.Create(dir, 3, Small, force: true);
            Assert.Throws<ArgumentException>(() => SyntheticDataset.Create(dir + "-x", 3, Small with { Size = 10 }));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void StagingFoldersOfKilledRunsAreRemovedAndALiveOneIsKept()
    {
        var parent = Path.Combine(Path.GetTempPath(), "deja-synth-staging-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(parent);
        try
        {
            // a run killed by a signal left its staging folder; no process has this id (above Linux's pid_max)
            var abandoned = Directory.CreateDirectory(Path.Combine(parent, ".data.tmp-99999999")).FullName;
            File.WriteAllText(Path.Combine(abandoned, "half.png"), "x");
            // a run still in progress (this test's own process stands in for it) keeps its folder
            var live = Directory.CreateDirectory(Path.Combine(parent, $".data.tmp-{Environment.ProcessId}")).FullName;
            var other = Directory.CreateDirectory(Path.Combine(parent, ".other.tmp-99999999")).FullName;
            SyntheticDataset.RemoveAbandonedStaging(parent, "data");
            Assert.False(Directory.Exists(abandoned));
            Assert.True(Directory.Exists(live));
            Assert.True(Directory.Exists(other)); // another target's staging is not ours to judge
        }
        finally { Directory.Delete(parent, true); }
    }

    static double Rmse(Image a, Image b) =>
        Math.Sqrt(a.Pixels.Zip(b.Pixels, (x, y) => Math.Pow((x - y) / 255.0, 2)).Average());

    [Fact]
    public void NuisanceVariesWhatTheCaptionDoesNotSay()
    {
        // Without nuisance every caption would be one image, and generalizing could not be told from memorizing.
        var scene = Scene.Random(new Generator(3));
        var a = scene.WithNuisance(new Generator(10));
        var b = scene.WithNuisance(new Generator(11));
        Assert.Equal(scene.Caption(), a.Caption());
        Assert.Equal(scene.Caption(), b.Caption());
        foreach (var o in a.Objects.Concat(b.Objects))
        {
            Assert.InRange(o.Dx, -Scene.MaxOffset, Scene.MaxOffset);
            Assert.InRange(o.Dy, -Scene.MaxOffset, Scene.MaxOffset);
            Assert.InRange(o.Scale, 1 - Scene.MaxScale, 1 + Scene.MaxScale);
            Assert.InRange(o.Tint.R, -Scene.MaxTint, Scene.MaxTint);
        }
        Image ra = SceneRenderer.Render(a, 32), rb = SceneRenderer.Render(b, 32), canonical = SceneRenderer.Render(scene, 32);
        Assert.Equal(canonical.Pixels, SceneRenderer.Render(scene with { }, 32).Pixels);
        Assert.InRange(Rmse(ra, rb), 0.03, 0.5);        // two images of one caption differ visibly...
        Assert.Equal(ra.Pixels, SceneRenderer.Render(a, 32).Pixels); // ...and each is reproducible

        // the dataset records the nuisance of every image
        var dir = Make(4);
        try
        {
            var row = JsonNode.Parse(File.ReadLines(Path.Combine(dir, "captions.jsonl")).First())!["scene"]!;
            Assert.NotNull(row["tint"]); Assert.NotNull(row["lighting"]); Assert.NotNull(row["phase"]);
            Assert.NotNull(row["objects"]![0]!["offset"]); Assert.NotNull(row["objects"]![0]!["scale"]);
        }
        finally { Directory.Delete(dir, true); }
    }
}
