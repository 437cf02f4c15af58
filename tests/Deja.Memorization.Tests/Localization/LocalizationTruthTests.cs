using Deja.Diffusion.Images;
using Deja.Memorization.Localization;
using Deja.Tensors;

namespace Deja.Memorization.Tests.Localization;

/// <summary>Ground truth from a benchmark folder and from a masks file, and the mask checks.</summary>
public sealed class LocalizationTruthTests : IDisposable
{
    readonly string dir = Path.Combine(Path.GetTempPath(), "deja-truth-test-" + Guid.NewGuid().ToString("N"));

    public LocalizationTruthTests() => Directory.CreateDirectory(dir);

    public void Dispose() { try { Directory.Delete(dir, true); } catch (IOException) { } }

    string WriteMask(string name, int width, int height, Func<int, int, byte> gray)
    {
        var pixels = new byte[width * height];
        for (int y = 0; y < height; y++) for (int x = 0; x < width; x++) pixels[y * width + x] = gray(x, y);
        var path = Path.Combine(dir, name);
        Png.Write(path, new Image(width, height, 1, pixels));
        return path;
    }

    [Fact]
    public void MasksAreThresholdedAtHalfAndMustBeBinary()
    {
        var ok = BinaryMask.Read(WriteMask("ok.png", 4, 1, (x, _) => new byte[] { 0, 5, 250, 255 }[x]));
        Assert.Equal([false, false, true, true], ok.Pixels);
        var e = Assert.Throws<DejaException>(() => BinaryMask.Read(WriteMask("gray.png", 4, 1, (x, _) => x == 2 ? (byte)128 : (byte)0)));
        Assert.Contains("is not binary: pixel (2, 0) has gray level 128", e.Message);
        // RGB masks are read as PIL's L: pure blue (luma 29) is black, white is white.
        var rgb = new Image(2, 1, 3, [0, 0, 255, 255, 255, 255]);
        Assert.Throws<DejaException>(() => BinaryMask.FromImage(rgb, "rgb")); // luma 29 is neither
        var bw = BinaryMask.FromImage(new Image(2, 1, 3, [0, 0, 0, 255, 255, 255]), "bw");
        Assert.Equal([false, true], bw.Pixels);
    }

    void WriteBenchmark(string replicateJsonl, string[] memorized, string[] nonMemorized)
    {
        File.WriteAllText(Path.Combine(dir, "replicate.jsonl"), replicateJsonl);
        File.WriteAllLines(Path.Combine(dir, "memorized.txt"), memorized);
        File.WriteAllLines(Path.Combine(dir, "nonmemorized.txt"), nonMemorized);
    }

    [Fact]
    public void ABenchmarkGivesTemplatesTheirMaskVerbatimOnesHeldOutZerosAndSkipsTheRest()
    {
        Directory.CreateDirectory(Path.Combine(dir, "masks"));
        WriteMask("masks/acme.png", 8, 8, (x, y) => x < 4 && y < 2 ? (byte)255 : (byte)0);
        WriteBenchmark(
            """
            {"caption":"tpl","kind":"template","brand":"acme","mask":"masks/acme.png","seeds":[0,2],"replicated_l2":true}
            {"caption":"tpl-brand-only","kind":"template","brand":"acme"}
            {"caption":"verb","kind":"verbatim","replicated_l2":true}
            {"caption":"held","kind":"heldout","replicated_l2":false}
            {"caption":"other","kind":"heldout","replicated_l2":true}
            """,
            ["tpl", "tpl-brand-only", "verb"], ["held"]);
        int[] gens = [0, 1, 2, 3];
        var prompts = new[] { "tpl", "tpl-brand-only", "verb", "held", "other", "unknown" }.Select((p, i) => new LocalizedPrompt(i, p, gens)).ToList();
        var truth = BenchmarkTruth.Build(dir, prompts, null, () => throw new InvalidOperationException("the template mask gives the size"));

        Assert.Equal((8, 8), (truth.Height, truth.Width));
        var byPrompt = truth.Samples.GroupBy(s => s.Prompt).ToDictionary(g => g.Key, g => g.ToList());
        Assert.Equal([0, 2], byPrompt["tpl"].Select(s => s.Generation));   // only the generations that replicated
        Assert.All(byPrompt["tpl"], s => Assert.Equal((TruthKind.Template, 8L), (s.Kind, s.Mask.Positives)));
        Assert.Equal(4, byPrompt["tpl-brand-only"].Count);                 // no seeds: every generation; masks/{brand}.png
        Assert.All(byPrompt["verb"], s => Assert.Equal((TruthKind.Ones, 64L), (s.Kind, s.Mask.Positives)));
        Assert.All(byPrompt["held"], s => Assert.Equal((TruthKind.Zeros, 0L), (s.Kind, s.Mask.Positives)));
        Assert.False(byPrompt.ContainsKey("other"));
        Assert.False(byPrompt.ContainsKey("unknown"));
        Assert.Contains(("prompts_not_in_benchmark", 2), truth.Skipped.Select(s => (s.Name, s.Count)));
        Assert.Contains(("generations_not_replicated", 2), truth.Skipped.Select(s => (s.Name, s.Count)));
    }

    [Fact]
    public void WithoutTemplatesOnesAndZerosTakeTheBenchmarksMaskSizeThenTheLargestMap()
    {
        WriteBenchmark("""{"caption":"verb","kind":"verbatim"}""" + "\n" + """{"caption":"held","kind":"heldout"}""", ["verb"], ["held"]);
        var prompts = new List<LocalizedPrompt> { new(0, "verb", [0]), new(1, "held", [0]) };
        var truth = BenchmarkTruth.Build(dir, prompts, null, () => (12, 10));
        Assert.Equal((12, 10), (truth.Height, truth.Width));          // no masks at all: the largest map
        Assert.Equal(24, BenchmarkTruth.Build(dir, prompts, 24, () => (12, 10)).Height); // --mask-size
        Directory.CreateDirectory(Path.Combine(dir, "masks"));
        WriteMask("masks/nova.png", 6, 6, (x, _) => x < 3 ? (byte)255 : (byte)0);
        var fromMasks = BenchmarkTruth.Build(dir, prompts, null, () => (12, 10));
        Assert.Equal((6, 6), (fromMasks.Height, fromMasks.Width)); // the benchmark's masks/*.png
    }

    [Fact]
    public void BenchmarkMasksOfDifferentSizesAndAConflictingMaskSizeAreRefused()
    {
        Directory.CreateDirectory(Path.Combine(dir, "masks"));
        WriteMask("masks/a.png", 8, 8, (x, _) => x < 4 ? (byte)255 : (byte)0);
        WriteMask("masks/b.png", 16, 16, (x, _) => x < 4 ? (byte)255 : (byte)0);
        WriteBenchmark("""{"caption":"a","kind":"template","brand":"a"}""" + "\n" + """{"caption":"b","kind":"template","brand":"b"}""", ["a", "b"], []);
        var prompts = new List<LocalizedPrompt> { new(0, "a", [0]), new(1, "b", [0]) };
        var e = Assert.Throws<DejaException>(() => BenchmarkTruth.Build(dir, prompts, null, () => (8, 8)));
        Assert.Contains("masks of different sizes", e.Message);
        e = Assert.Throws<DejaException>(() => BenchmarkTruth.Build(dir, prompts.Take(1).ToList(), 16, () => (8, 8)));
        Assert.Contains("--mask-size 16 disagrees", e.Message);
    }

    [Fact]
    public void AMasksFileSortsRowsIntoTvAndDefaultsOnesAndZerosToPngSizeOr256()
    {
        WriteMask("m0.png", 8, 8, (x, _) => x < 2 ? (byte)255 : (byte)0);
        var file = Path.Combine(dir, "masks.jsonl");
        File.WriteAllLines(file, [
            """{"index": 0, "generation": 0, "mask": "m0.png"}""",
            """{"index": 0, "generation": 1, "mask": "ones", "kind": "template"}""",
            """{"index": 1, "generation": 0, "mask": "ones"}""",
            """{"index": 2, "generation": 0, "mask": "zeros", "kind": "nmem"}""",
        ]);
        var prompts = new List<LocalizedPrompt> { new(0, "a", [0, 1]), new(1, "b", [0, 1]), new(2, "c", [0]) };
        var truth = MaskFileTruth.Build(file, prompts, null);
        Assert.Equal((8, 8), (truth.Height, truth.Width));
        Assert.Equal([TruthKind.Template, TruthKind.Template, TruthKind.Ones, TruthKind.Zeros], truth.Samples.Select(s => s.Kind));
        Assert.Equal(16, truth.Samples[0].Mask.Positives);
        Assert.Contains(("generations_without_mask", 1), truth.Skipped.Select(s => (s.Name, s.Count)));

        File.WriteAllLines(file, ["""{"index": 1, "generation": 0, "mask": "ones"}""", """{"index": 2, "generation": 0, "mask": "zeros"}"""]);
        Assert.Equal(256, MaskFileTruth.Build(file, prompts, null).Height);
        Assert.Equal(32, MaskFileTruth.Build(file, prompts, 32).Width);

        File.WriteAllLines(file, ["""{"index": 1, "generation": 5, "mask": "ones"}"""]);
        Assert.Contains("prompt 1 has no generation 5", Assert.Throws<DejaException>(() => MaskFileTruth.Build(file, prompts, null)).Message);
        File.WriteAllLines(file, ["""{"index": 1, "generation": 0, "mask": "ones"}""", """{"index": 1, "generation": 0, "mask": "ones"}"""]);
        Assert.Contains("is given twice", Assert.Throws<DejaException>(() => MaskFileTruth.Build(file, prompts, null)).Message);
    }
}
