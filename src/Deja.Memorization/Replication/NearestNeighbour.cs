namespace Deja.Memorization.Replication;

/// <summary>The training image closest to a generation, and both similarity measures to it.</summary>
public sealed record NearestMatch(int Index, double NormalizedL2, double Ssim);

/// <summary>Nearest training image by normalized L2 (exhaustive; the synthetic sets are small), with its SSIM.</summary>
public static class NearestNeighbour
{
    public static NearestMatch Find(float[] generated, IReadOnlyList<float[]> training, int channels, int height, int width, bool[]? mask = null)
    {
        ArgumentNullException.ThrowIfNull(training);
        if (training.Count == 0) throw new ArgumentException("nearest neighbour: no training images");
        int best = -1; double bestL2 = double.PositiveInfinity;
        for (int i = 0; i < training.Count; i++)
        {
            double d = ImageSimilarity.NormalizedL2(generated, training[i], channels, height, width, mask);
            if (d < bestL2) { bestL2 = d; best = i; }
        }
        return new NearestMatch(best, bestL2, ImageSimilarity.Ssim(generated, training[best], channels, height, width, mask));
    }
}
