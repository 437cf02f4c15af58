using Deja.Diffusion.Images;
using Deja.Tensors;

namespace Deja.Memorization.Localization;

/// <summary>
/// A ground-truth mask, true = memorized pixel: a template's region (K's TV samples, METHODS.md §4.6),
/// all ones (a whole memorized image, K's MV/RV) or all zeros (a non-memorized prompt).
/// </summary>
public sealed class BinaryMask
{
    /// <summary>Gray levels strictly between these are neither black nor white: the mask is not binary
    /// (a resampled or antialiased mask would silently move the region's boundary).</summary>
    public const int BlackTolerance = 5, WhiteTolerance = 250;

    public int Height { get; }
    public int Width { get; }
    public bool[] Pixels { get; }

    /// <summary>Where the mask came from: its PNG path, "ones" or "zeros".</summary>
    public string Source { get; }

    public long Positives { get; }

    public BinaryMask(int height, int width, bool[] pixels, string source)
    {
        if (pixels.Length != (long)height * width) throw new ArgumentException($"mask: {pixels.Length} pixels for {height}×{width}");
        Height = height; Width = width; Pixels = pixels; Source = source;
        foreach (var p in pixels) if (p) Positives++;
    }

    public long Negatives => Pixels.Length - Positives;

    public static BinaryMask Ones(int height, int width) => new(height, width, Filled(height * width, true), "ones");

    public static BinaryMask Zeros(int height, int width) => new(height, width, new bool[height * width], "zeros");

    static bool[] Filled(int n, bool value) { var a = new bool[n]; Array.Fill(a, value); return a; }

    /// <summary>
    /// Reads a mask PNG as K does (METHODS.md §4.6.4): PIL "L" gray (ITU-R 601 luma of RGB; alpha ignored),
    /// /255, &gt; 0.5, i.e. white = gray ≥ 128. A pixel strictly between 5 and 250 is refused as not binary.
    /// </summary>
    public static BinaryMask Read(string path)
    {
        if (!File.Exists(path)) throw new DejaException($"mask '{path}' does not exist");
        return FromImage(Png.Read(path), path);
    }

    public static BinaryMask FromImage(Image image, string source)
    {
        int n = image.Width * image.Height, c = image.Channels;
        var pixels = new bool[n];
        var p = image.Pixels;
        for (int i = 0; i < n; i++)
        {
            int gray = c <= 2 ? p[i * c] : Luma(p[i * c], p[i * c + 1], p[i * c + 2]);
            if (gray > BlackTolerance && gray < WhiteTolerance)
                throw new DejaException($"mask '{source}' is not binary: pixel ({i % image.Width}, {i / image.Width}) has gray level {gray} " +
                    $"(masks must be black 0 and white 255, within {BlackTolerance})");
            pixels[i] = gray >= 128;
        }
        return new BinaryMask(image.Height, image.Width, pixels, source);
    }

    /// <summary>PIL's RGB → L conversion (libImaging Convert.c, L24): fixed-point 0.299 R + 0.587 G + 0.114 B, rounded.</summary>
    static int Luma(int r, int g, int b) => (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
}
