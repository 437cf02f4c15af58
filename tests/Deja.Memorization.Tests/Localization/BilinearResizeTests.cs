using Deja.Memorization.Localization;

namespace Deja.Memorization.Tests.Localization;

/// <summary>The map resize of METHODS.md §4.7.2: PIL's float bilinear, checked against values worked out by hand.</summary>
public class BilinearResizeTests
{
    static void Equal(double[] expected, float[] actual, double tol = 1e-6)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol, $"index {i}: expected {expected[i]}, got {actual[i]} (all: {string.Join(", ", actual)})");
    }

    [Fact]
    public void TwoByTwoToFourByFourIsHalfPixelBilinearWithClampedEdges()
    {
        // Output pixel x samples the input at (x + ½)/2 − ½ = −0.25, 0.25, 0.75, 1.25, clamped to [0, 1]:
        // weights (1, 0), (¾, ¼), (¼, ¾), (0, 1) along each axis.
        var result = BilinearResize.Resize([0f, 1f, 2f, 3f], 2, 2, 4, 4);
        Equal([
            0.0, 0.25, 0.75, 1.0,
            0.5, 0.75, 1.25, 1.5,
            1.5, 1.75, 2.25, 2.5,
            2.0, 2.25, 2.75, 3.0,
        ], result);
    }

    [Fact]
    public void UpsamplingByAnyFactorEqualsTheClampedHalfPixelFormula()
    {
        var rng = new Random(3);
        int h = 3, w = 5, outH = 7, outW = 11;
        var source = Enumerable.Range(0, h * w).Select(_ => (float)rng.NextDouble()).ToArray();
        static (int, int, double) Tap(int x, int inSize, int outSize)
        {
            double c = Math.Clamp((x + 0.5) * inSize / outSize - 0.5, 0, inSize - 1);
            int i0 = (int)Math.Floor(c);
            return (i0, Math.Min(i0 + 1, inSize - 1), c - i0);
        }
        var expected = new double[outH * outW];
        for (int y = 0; y < outH; y++)
            for (int x = 0; x < outW; x++)
            {
                var (y0, y1, ty) = Tap(y, h, outH);
                var (x0, x1, tx) = Tap(x, w, outW);
                double top = source[y0 * w + x0] * (1 - tx) + source[y0 * w + x1] * tx;
                double bottom = source[y1 * w + x0] * (1 - tx) + source[y1 * w + x1] * tx;
                expected[y * outW + x] = top * (1 - ty) + bottom * ty;
            }
        Equal(expected, BilinearResize.Resize(source, h, w, outH, outW));
    }

    [Fact]
    public void DownsamplingWidensTheTriangleByTheScaleAsPil()
    {
        // 4 → 2: scale 2, support 2. Output 0 is centred at 1.0 and takes inputs 0, 1, 2 with triangle
        // weights at distances 0.25, 0.25, 0.75 (in units of 2 pixels): 0.75, 0.75, 0.25 → 3/7, 3/7, 1/7.
        // Output 1 is centred at 3.0 and takes inputs 1, 2, 3 with 1/7, 3/7, 3/7.
        var result = BilinearResize.Resize([0f, 1f, 2f, 3f], 1, 4, 1, 2);
        Equal([5.0 / 7, 16.0 / 7], result);
        // A plain 2-tap lookup would give 0.5 and 2.5.
    }

    [Fact]
    public void AConstantStaysConstantAndTheSameSizeIsACopy()
    {
        var constant = Enumerable.Repeat(0.37f, 5 * 7).ToArray();
        Assert.All(BilinearResize.Resize(constant, 5, 7, 13, 3), v => Assert.Equal(0.37f, v, 6));
        float[] source = [1f, float.NaN, -2f, 4f];
        var copy = BilinearResize.Resize(source, 2, 2, 2, 2);
        Assert.Equal(source, copy);
        Assert.NotSame(source, copy);
    }
}
