namespace Deja.Memorization.Replication;

/// <summary>
/// How close a generated image is to a training image, the two measures `deja replicate` reports:
/// the normalized L2 distance (RMSE over pixels and channels, images in [0, 1]; 0 = identical) and the
/// structural similarity SSIM (Wang et al. 2004; 1 = identical) with scikit-image's defaults: a 7×7
/// uniform window, sample covariances, K1 = 0.01, K2 = 0.03, data range 1, the mean of the SSIM map
/// over all window positions that fit inside the image, averaged over channels. An optional mask
/// restricts both to a region (template memorization is judged on the template only): L2 over its
/// pixels, SSIM over the windows inside it.
/// Images are [C, H, W] arrays, channel-major.
/// </summary>
public static class ImageSimilarity
{
    public const int Window = 7;

    static void Check(float[] a, float[] b, int channels, int height, int width, bool[]? mask)
    {
        if (a.Length != b.Length || a.Length != channels * height * width)
            throw new ArgumentException($"image similarity: images of {a.Length} and {b.Length} values, expected {channels}×{height}×{width}");
        if (mask is not null && mask.Length != height * width)
            throw new ArgumentException($"image similarity: a mask of {mask.Length} pixels for a {height}×{width} image");
    }

    /// <summary>√(mean (a − b)²) over the (masked) pixels of every channel.</summary>
    public static double NormalizedL2(float[] a, float[] b, int channels, int height, int width, bool[]? mask = null)
    {
        Check(a, b, channels, height, width, mask);
        int hw = height * width;
        double sum = 0; long count = 0;
        for (int c = 0; c < channels; c++)
            for (int p = 0; p < hw; p++)
            {
                if (mask is not null && !mask[p]) continue;
                double d = a[c * hw + p] - b[c * hw + p];
                sum += d * d; count++;
            }
        if (count == 0) throw new ArgumentException("image similarity: the mask selects no pixel");
        return Math.Sqrt(sum / count);
    }

    /// <summary>Mean SSIM over channels and over the 7×7 windows (those whose centre lies in the mask, when given).</summary>
    public static double Ssim(float[] a, float[] b, int channels, int height, int width, bool[]? mask = null)
    {
        Check(a, b, channels, height, width, mask);
        if (height < Window || width < Window) throw new ArgumentException($"SSIM: images must be at least {Window}×{Window}, got {height}×{width}");
        const double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03;
        const int n = Window * Window, r = Window / 2;
        const double covNorm = n / (n - 1.0);
        int hw = height * width;
        // With a mask, the windows that lie wholly inside it (a template region is compared on its own
        // pixels); a region too thin for any whole window (a 2-pixel frame) falls back to the windows touching it.
        bool[]? use = null;
        if (mask is not null)
        {
            use = new bool[hw];
            bool any = false;
            for (int y = r; y < height - r; y++)
                for (int x = r; x < width - r; x++)
                {
                    bool inside = true;
                    for (int dy = -r; dy <= r && inside; dy++)
                        for (int dx = -r; dx <= r && inside; dx++) inside = mask[(y + dy) * width + x + dx];
                    any |= use[y * width + x] = inside;
                }
            if (!any)
                for (int y = r; y < height - r; y++)
                    for (int x = r; x < width - r; x++)
                    {
                        bool touches = false;
                        for (int dy = -r; dy <= r && !touches; dy++)
                            for (int dx = -r; dx <= r && !touches; dx++) touches = mask[(y + dy) * width + x + dx];
                        use[y * width + x] = touches;
                    }
        }
        double total = 0; long count = 0;
        for (int c = 0; c < channels; c++)
            for (int y = r; y < height - r; y++)
                for (int x = r; x < width - r; x++)
                {
                    if (use is not null && !use[y * width + x]) continue;
                    double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
                    for (int dy = -r; dy <= r; dy++)
                        for (int dx = -r; dx <= r; dx++)
                        {
                            int i = c * hw + (y + dy) * width + (x + dx);
                            double va = a[i], vb = b[i];
                            sa += va; sb += vb; saa += va * va; sbb += vb * vb; sab += va * vb;
                        }
                    double ma = sa / n, mb = sb / n;
                    double va2 = covNorm * (saa / n - ma * ma), vb2 = covNorm * (sbb / n - mb * mb), cov = covNorm * (sab / n - ma * mb);
                    total += (2 * ma * mb + c1) * (2 * cov + c2) / ((ma * ma + mb * mb + c1) * (va2 + vb2 + c2));
                    count++;
                }
        if (count == 0) throw new ArgumentException("SSIM: the mask contains no window centre");
        return total / count;
    }
}
