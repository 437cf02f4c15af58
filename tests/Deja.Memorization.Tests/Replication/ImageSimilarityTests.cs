using Deja.Memorization.Replication;
using Deja.Tensors;

namespace Deja.Memorization.Tests.Replication;

public class ImageSimilarityTests
{
    static float[] Random(int seed, int n) { var g = new Generator(seed); return Enumerable.Range(0, n).Select(_ => g.NextFloat()).ToArray(); }

    [Fact]
    public void IdenticalImagesAreAtDistanceZeroAndSsimOne()
    {
        var a = Random(1, 3 * 16 * 16);
        Assert.Equal(0, ImageSimilarity.NormalizedL2(a, a, 3, 16, 16));
        Assert.Equal(1, ImageSimilarity.Ssim(a, a, 3, 16, 16), 12);
    }

    [Fact]
    public void NormalizedL2IsTheRootMeanSquare()
    {
        var a = new float[2 * 8 * 8]; var b = Enumerable.Repeat(0.5f, a.Length).ToArray();
        Assert.Equal(0.5, ImageSimilarity.NormalizedL2(a, b, 2, 8, 8), 12);
        var mask = new bool[64]; mask[3] = true;
        b[3] = 0.25f; b[64 + 3] = 0.25f;
        Assert.Equal(0.25, ImageSimilarity.NormalizedL2(a, b, 2, 8, 8, mask), 6);
    }

    [Fact]
    public void SsimMatchesAHandComputedWindow()
    {
        // One 7×7 channel: a = ramp, b = 2·ramp. With μ_b = 2μ_a, σ_b² = 4σ_a², cov = 2σ_a²:
        // SSIM = (4μ² + c1)(4σ² + c2) / ((5μ² + c1)(5σ² + c2)).
        var a = Enumerable.Range(0, 49).Select(i => i / 100f).ToArray();
        var b = a.Select(v => 2 * v).ToArray();
        double mu = a.Average(v => (double)v), var = a.Sum(v => (v - mu) * (v - mu)) / 48;
        double c1 = 1e-4, c2 = 9e-4;
        double expected = (4 * mu * mu + c1) * (4 * var + c2) / ((5 * mu * mu + c1) * (5 * var + c2));
        Assert.Equal(expected, ImageSimilarity.Ssim(a, b, 1, 7, 7), 6);
    }

    [Fact]
    public void NoiseLowersSsimAndTheNearestNeighbourIsFound()
    {
        int n = 3 * 16 * 16;
        var training = Enumerable.Range(0, 5).Select(i => Random(10 + i, n)).ToList();
        var g = new Generator(99);
        var noisy = training[3].Select(v => Math.Clamp(v + 0.05f * (float)g.NextNormal(), 0f, 1f)).ToArray();
        var match = NearestNeighbour.Find(noisy, training, 3, 16, 16);
        Assert.Equal(3, match.Index);
        Assert.True(match.NormalizedL2 < 0.06);
        Assert.True(match.Ssim is > 0.8 and < 1);
        Assert.True(ImageSimilarity.Ssim(training[0], training[1], 3, 16, 16) < 0.2);
        Assert.Throws<ArgumentException>(() => ImageSimilarity.Ssim(new float[25], new float[25], 1, 5, 5));
    }
}

public class ReplicationRunTests
{
    [Fact]
    public void CopiesAreFlaggedAndNovelImagesAreNot()
    {
        var g = new Generator(5);
        float[] Rand() => Enumerable.Range(0, 3 * 16 * 16).Select(_ => g.NextFloat()).ToArray();
        var training = Enumerable.Range(0, 4).Select(_ => Rand()).ToList();
        var mask = new bool[256];
        for (int i = 0; i < 128; i++) mask[i] = true;                   // top half
        var template = Rand();
        for (int c = 0; c < 3; c++) for (int p = 0; p < 128; p++) training[2][c * 256 + p] = template[c * 256 + p];
        var run = new ReplicationRun { TrainingImages = training, Channels = 3, Height = 16, Width = 16, Generations = 2 };
        var results = run.Run(
        [
            new ReplicationCase("copy of 1", "verbatim"),
            new ReplicationCase("novel", "heldout"),
            new ReplicationCase("brand", "template", mask, [2]),
        ], (caption, seed) => caption switch
        {
            "copy of 1" => seed == 0 ? Rand() : training[1],                // the second generation copies
            "brand" => Enumerable.Range(0, 768).Select(i => i % 256 < 128 ? template[i] : g.NextFloat()).ToArray(),
            _ => Rand(),
        }).ToList();
        Assert.True(results[0].ReplicatedL2 && results[0].ReplicatedSsim);
        Assert.Equal(1, results[0].NearestIndex);
        Assert.False(results[1].ReplicatedL2 || results[1].ReplicatedSsim);
        Assert.True(results[2].ReplicatedL2 && results[2].ReplicatedSsim);
        Assert.Equal(2, results[2].NearestIndex);
        var rates = ReplicationRun.Rates(results);
        Assert.Equal(("heldout", 1, 0.0, 0.0), rates[0]);
    }
}
