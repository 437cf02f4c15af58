namespace Deja.Memorization.Localization;

/// <summary>
/// PIL's <c>Image.resize(size, BILINEAR)</c> of a float32 ("F" mode) image, as K resizes every map to
/// the mask resolution (METHODS.md §4.7.2). It is Pillow's <c>Resample.c</c>: a separable triangle
/// filter over pixel centres (output pixel x samples the input at (x + ½)·scale), horizontal pass
/// first into a float32 intermediate, then vertical; weights in double, sums in double, results stored
/// as float32. Taps that fall outside the image are dropped and the rest renormalised, which for
/// upsampling is exactly half-pixel-centre bilinear with clamped edges. When downsampling, PIL widens
/// the triangle by the scale (support = scale), an antialiasing filter, not a 2-tap lookup; we do the same.
/// </summary>
public static class BilinearResize
{
    /// <summary>Resizes a row-major <paramref name="height"/>×<paramref name="width"/> image; same size is a copy.</summary>
    public static float[] Resize(ReadOnlySpan<float> source, int height, int width, int outHeight, int outWidth)
    {
        if (height < 1 || width < 1 || outHeight < 1 || outWidth < 1)
            throw new ArgumentException($"resize: sizes must be positive, got {height}×{width} → {outHeight}×{outWidth}");
        if (source.Length != (long)height * width)
            throw new ArgumentException($"resize: {source.Length} values for a {height}×{width} image");
        if (height == outHeight && width == outWidth) return source.ToArray(); // PIL copies

        // Horizontal pass (only when the width changes), into float32 as PIL's intermediate image is "F".
        float[] rows;
        if (width != outWidth)
        {
            var (bounds, weights, taps) = Coefficients(width, outWidth);
            rows = new float[height * outWidth];
            for (int y = 0; y < height; y++)
            {
                var row = source.Slice(y * width, width);
                for (int x = 0; x < outWidth; x++)
                {
                    int first = bounds[2 * x], count = bounds[2 * x + 1];
                    double sum = 0;
                    for (int t = 0; t < count; t++) sum += row[first + t] * weights[x * taps + t];
                    rows[y * outWidth + x] = (float)sum;
                }
            }
        }
        else rows = source.ToArray();
        if (height == outHeight) return rows;

        var (vb, vw, vtaps) = Coefficients(height, outHeight);
        var result = new float[outHeight * outWidth];
        for (int y = 0; y < outHeight; y++)
        {
            int first = vb[2 * y], count = vb[2 * y + 1];
            for (int x = 0; x < outWidth; x++)
            {
                double sum = 0;
                for (int t = 0; t < count; t++) sum += rows[(first + t) * outWidth + x] * vw[y * vtaps + t];
                result[y * outWidth + x] = (float)sum;
            }
        }
        return result;
    }

    /// <summary>
    /// Pillow's <c>precompute_coeffs</c> for the triangle filter (support 1) over the whole image: for
    /// each output position its first input tap, tap count, and normalised weights (row stride <c>taps</c>).
    /// </summary>
    internal static (int[] Bounds, double[] Weights, int Taps) Coefficients(int inSize, int outSize)
    {
        double scale = (double)inSize / outSize;
        double filterScale = Math.Max(scale, 1.0); // downsampling widens the filter: an antialiasing average
        double support = 1.0 * filterScale;
        int taps = (int)Math.Ceiling(support) * 2 + 1;
        var bounds = new int[2 * outSize];
        var weights = new double[outSize * taps];
        for (int x = 0; x < outSize; x++)
        {
            double center = (x + 0.5) * scale;
            double inverse = 1.0 / filterScale;
            // C's (int) cast truncates toward zero; negative starts are clamped to 0 right after, so the
            // truncation is harmless and we keep it for parity.
            int min = Math.Max((int)(center - support + 0.5), 0);
            int max = Math.Min((int)(center + support + 0.5), inSize) - min;
            double total = 0;
            for (int t = 0; t < max; t++)
            {
                double w = Triangle((t + min - center + 0.5) * inverse);
                weights[x * taps + t] = w;
                total += w;
            }
            if (total != 0)
                for (int t = 0; t < max; t++) weights[x * taps + t] /= total;
            bounds[2 * x] = min;
            bounds[2 * x + 1] = max;
        }
        return (bounds, weights, taps);
    }

    static double Triangle(double x)
    {
        if (x < 0) x = -x;
        return x < 1 ? 1 - x : 0;
    }
}
