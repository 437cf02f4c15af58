using System.IO.Compression;
using Deja.Tensors;

namespace Deja.Diffusion.Images;

/// <summary>
/// The pixel layer of a PNG: inflates the IDAT data, unfilters each row and expands samples to 8-bit
/// channels. The inflated data must be exactly as long as the header implies before the image is
/// allocated, so a header claiming a huge image over a few bytes of data is refused without allocating it.
/// </summary>
internal static class PngPixels
{
    public static Image Decode(PngChunks png)
    {
        var raw = Inflate(png.CompressedData, png.RawBytes);
        var img = new Image(png.Width, png.Height, png.OutputChannels);
        int bitsPerPixel = png.Samples * png.BitDepth;
        int bpp = Math.Max(1, bitsPerPixel / 8); // filter distance in bytes
        if (!png.Interlaced)
        {
            DecodePass(png, raw, 0, png.Width, png.Height, bpp, (x, y, px) => Put(img, x, y, px, png));
            return img;
        }
        // Adam7: seven sub-images, each unfiltered on its own, scattered onto the 8×8 pattern.
        int rawPos = 0, p = 0;
        foreach (var (pw, ph) in Adam7.PassSizes(png.Width, png.Height))
        {
            int pass = p++;
            if (pw <= 0 || ph <= 0) continue;
            rawPos = DecodePass(png, raw, rawPos, pw, ph, bpp,
                (x, y, px) => Put(img, Adam7.StartX[pass] + x * Adam7.StepX[pass], Adam7.StartY[pass] + y * Adam7.StepY[pass], px, png));
        }
        return img;
    }

    /// <summary>
    /// Inflates at most <paramref name="expected"/> bytes (later data is ignored, as libpng does) and requires
    /// all of them. The buffer grows with the data actually inflated, never to what the header merely claims.
    /// </summary>
    static byte[] Inflate(byte[] compressed, long expected)
    {
        using var output = new MemoryStream();
        var block = new byte[1 << 16];
        try
        {
            using var z = new ZLibStream(new MemoryStream(compressed), CompressionMode.Decompress);
            while (output.Length < expected)
            {
                int n = z.Read(block, 0, (int)Math.Min(block.Length, expected - output.Length));
                if (n == 0) break;
                output.Write(block, 0, n);
            }
        }
        // zlib reports some damage as ZLibException, an IOException, rather than InvalidDataException
        // (fuzzing: png, seed 2026, input 17162 and three others).
        catch (Exception e) when (e is InvalidDataException or IOException) { throw new DejaException($"corrupt PNG image data ({e.Message})", e); }
        if (output.Length < expected)
            throw new DejaException($"truncated PNG image data ({output.Length} of {expected} bytes after decompression)");
        return output.GetBuffer(); // at least `expected` bytes; the rows never read past them
    }

    delegate void PixelSink(int x, int y, ReadOnlySpan<int> samples);

    /// <summary>Unfilters one (sub)image and hands each pixel's samples to <paramref name="sink"/>.</summary>
    static int DecodePass(PngChunks png, byte[] raw, int pos, int w, int h, int bpp, PixelSink sink)
    {
        int stride = (int)png.Stride(w), samples = png.Samples, depth = png.BitDepth;
        var prev = new byte[stride];
        var cur = new byte[stride];
        Span<int> px = stackalloc int[4];
        for (int y = 0; y < h; y++)
        {
            byte f = raw[pos];
            raw.AsSpan(pos + 1, stride).CopyTo(cur);
            pos += stride + 1;
            for (int i = 0; i < stride; i++)
            {
                int a = i >= bpp ? cur[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
                cur[i] = f switch
                {
                    0 => cur[i],
                    1 => (byte)(cur[i] + a),
                    2 => (byte)(cur[i] + b),
                    3 => (byte)(cur[i] + ((a + b) >> 1)),
                    4 => (byte)(cur[i] + Png.Paeth(a, b, c)),
                    _ => throw new DejaException($"corrupt PNG (filter type {f} in row {y})"),
                };
            }
            for (int x = 0; x < w; x++)
            {
                for (int k = 0; k < samples; k++) px[k] = Sample(cur, x * samples + k, depth);
                sink(x, y, px[..samples]);
            }
            (prev, cur) = (cur, prev);
        }
        return pos;
    }

    /// <summary>The i-th sample of a row at 1, 2, 4, 8 or 16 bits (big-endian, MSB first).</summary>
    static int Sample(byte[] row, int i, int depth) => depth switch
    {
        8 => row[i],
        16 => (row[2 * i] << 8) | row[2 * i + 1],
        _ => (row[i * depth >> 3] >> (8 - depth - (i * depth & 7))) & ((1 << depth) - 1),
    };

    static void Put(Image img, int x, int y, ReadOnlySpan<int> s, PngChunks png)
    {
        int o = (y * img.Width + x) * img.Channels, depth = png.BitDepth;
        byte To8(int v) => depth switch { 16 => (byte)((v * 255 + 32767) / 65535), 8 => (byte)v, _ => (byte)(v * 255 / ((1 << depth) - 1)) };
        if (png.ColorType == 3)
        {
            var palette = png.Palette!;
            int idx = s[0];
            if (idx * 3 + 2 >= palette.Length) throw new DejaException($"corrupt PNG (palette index {idx} out of range)");
            img.Pixels[o] = palette[idx * 3]; img.Pixels[o + 1] = palette[idx * 3 + 1]; img.Pixels[o + 2] = palette[idx * 3 + 2];
            if (img.Channels == 4) img.Pixels[o + 3] = idx < png.Transparency!.Length ? png.Transparency[idx] : (byte)255;
            return;
        }
        for (int c = 0; c < img.Channels; c++) img.Pixels[o + c] = To8(s[c]);
    }
}
