using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Deja.Diffusion.Data;
using Deja.Diffusion.Images;
using Deja.Diffusion.Training;

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
}
