using Deja.Diffusion.Images;

namespace Deja.Memorization.Localization;

/// <summary>
/// A localization map drawn over the generated image: the map bilinearly upsampled to the image,
/// min–max normalised per map, coloured (an inferno-like ramp, dark = 0, yellow = max) and blended
/// half over the image, with a colour bar on the right (top = the map's maximum). Small images are
/// enlarged by an integer factor (nearest) so that a 32×32 generation is readable.
/// </summary>
public static class Heatmap
{
    const int MinSide = 256, BarGap = 6, BarWidth = 12;

    // inferno-like control points: black, purple, red, orange, yellow
    static readonly (double R, double G, double B)[] Ramp =
        [(0, 0, 4), (87, 16, 110), (188, 55, 84), (249, 142, 9), (252, 255, 164)];

    /// <summary>The RGB colour of a value in [0, 1].</summary>
    public static (byte R, byte G, byte B) Colour(double v)
    {
        v = Math.Clamp(double.IsFinite(v) ? v : 0, 0, 1) * (Ramp.Length - 1);
        int i = Math.Min((int)v, Ramp.Length - 2);
        double f = v - i;
        var (a, b) = (Ramp[i], Ramp[i + 1]);
        return ((byte)Math.Round(a.R + f * (b.R - a.R)), (byte)Math.Round(a.G + f * (b.G - a.G)), (byte)Math.Round(a.B + f * (b.B - a.B)));
    }

    /// <summary>
    /// Renders <paramref name="map"/> [mapH·mapW] over <paramref name="image"/> ([C, H, W] in [0, 1],
    /// C = 1 or 3; null = the map alone on black).
    /// </summary>
    public static Image Render(float[]? image, int channels, int height, int width, float[] map, int mapH, int mapW)
    {
        if (map.Length != mapH * mapW) throw new ArgumentException($"heatmap: {map.Length} values for a {mapH}×{mapW} map");
        if (image is not null && image.Length != channels * height * width) throw new ArgumentException($"heatmap: image has {image.Length} values, not {channels}×{height}×{width}");
        int scale = Math.Max(1, (int)Math.Ceiling(MinSide / (double)Math.Max(height, width)));
        int h = height * scale, w = width * scale, total = w + BarGap + BarWidth;
        float lo = float.PositiveInfinity, hi = float.NegativeInfinity;
        foreach (var v in map) if (float.IsFinite(v)) { lo = Math.Min(lo, v); hi = Math.Max(hi, v); }
        if (!(hi > lo)) { lo = float.IsFinite(lo) ? lo : 0; hi = lo + 1; }
        var up = BilinearResize.Resize(map, mapH, mapW, h, w);
        var output = new Image(total, h, 3);
        var px = output.Pixels;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                var (r, g, b) = Colour((up[y * w + x] - lo) / (hi - lo));
                double ir = 0, ig = 0, ib = 0;
                if (image is not null)
                {
                    int p = (y / scale) * width + x / scale, plane = height * width;
                    ir = image[p] * 255; ig = image[channels == 3 ? plane + p : p] * 255; ib = image[channels == 3 ? 2 * plane + p : p] * 255;
                }
                int o = 3 * (y * total + x);
                double alpha = image is null ? 1 : 0.55;
                px[o] = (byte)Math.Clamp(Math.Round(alpha * r + (1 - alpha) * ir), 0, 255);
                px[o + 1] = (byte)Math.Clamp(Math.Round(alpha * g + (1 - alpha) * ig), 0, 255);
                px[o + 2] = (byte)Math.Clamp(Math.Round(alpha * b + (1 - alpha) * ib), 0, 255);
            }
        for (int y = 0; y < h; y++)
        {
            var (r, g, b) = Colour(1 - y / (double)Math.Max(1, h - 1));
            for (int x = w + BarGap; x < total; x++)
            {
                int o = 3 * (y * total + x);
                px[o] = r; px[o + 1] = g; px[o + 2] = b;
            }
        }
        return output;
    }
}
