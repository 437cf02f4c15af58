using System.Buffers.Binary;
using Deja.Tensors;

namespace Deja.Diffusion.Images;

/// <summary>
/// The chunk layer of a PNG file: the IHDR fields, the palette and transparency chunks and the
/// concatenated IDAT data, every chunk's CRC checked. Nothing here allocates more than the file holds;
/// <see cref="RawBytes"/> says how much the pixel data will need once it is inflated.
/// </summary>
public sealed record PngChunks(int Width, int Height, int BitDepth, int ColorType, bool Interlaced,
                               byte[]? Palette, byte[]? Transparency, byte[] CompressedData)
{
    /// <summary>
    /// Larger images are refused: 2^26 pixels (e.g. 8192×8192) is far above anything Deja trains on or
    /// compares with, and keeps a decoded image under 256 MB even as 16-bit RGBA.
    /// </summary>
    public const long MaxPixels = 1L << 26;

    static ReadOnlySpan<byte> Signature => [137, 80, 78, 71, 13, 10, 26, 10];

    /// <summary>Samples per pixel of the colour type (palette images have one index per pixel).</summary>
    public int Samples => ColorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, _ => 4 };

    /// <summary>Channels of the decoded 8-bit image.</summary>
    public int OutputChannels => ColorType switch { 0 => 1, 4 => 2, 2 => 3, 6 => 4, _ => Transparency is null ? 3 : 4 };

    /// <summary>Bytes of one filtered row of <paramref name="width"/> pixels, without its filter byte.</summary>
    public long Stride(int width) => ((long)width * Samples * BitDepth + 7) / 8;

    /// <summary>The exact length of the inflated IDAT data: every row of every (Adam7) pass plus its filter byte.</summary>
    public long RawBytes
    {
        get
        {
            if (!Interlaced) return (Stride(Width) + 1) * Height;
            long total = 0;
            foreach (var (pw, ph) in Adam7.PassSizes(Width, Height))
                if (pw > 0 && ph > 0) total += (Stride(pw) + 1) * ph;
            return total;
        }
    }

    public static PngChunks Parse(ReadOnlySpan<byte> png)
    {
        if (png.Length < 8 || !png[..8].SequenceEqual(Signature)) throw new DejaException("not a PNG file (bad signature)");
        int pos = 8, width = 0, height = 0, depth = 0, color = -1, interlace = 0;
        byte[]? palette = null, trns = null;
        using var idat = new MemoryStream();
        bool end = false;
        while (!end)
        {
            if (pos + 8L > png.Length) throw new DejaException("truncated PNG (chunk header past the end)");
            int len = BinaryPrimitives.ReadInt32BigEndian(png[pos..]);
            var typeBytes = png.Slice(pos + 4, 4);
            string type = ChunkName(typeBytes);
            if (len < 0 || pos + 12L + len > png.Length) throw new DejaException($"truncated PNG (chunk {type} runs past the end)");
            var data = png.Slice(pos + 8, len);
            uint crc = BinaryPrimitives.ReadUInt32BigEndian(png[(pos + 8 + len)..]);
            if ((Crc32.Update(Crc32.Update(0xFFFFFFFFu, typeBytes), data) ^ 0xFFFFFFFFu) != crc)
                throw new DejaException($"corrupt PNG (CRC mismatch in chunk {type})");
            switch (type)
            {
                case "IHDR":
                    if (len != 13) throw new DejaException("corrupt PNG (IHDR size)");
                    width = BinaryPrimitives.ReadInt32BigEndian(data);
                    height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                    depth = data[8]; color = data[9]; interlace = data[12];
                    if (width <= 0 || height <= 0 || (long)width * height > MaxPixels)
                        throw new DejaException($"unsupported PNG size {width}×{height} (at most {MaxPixels} pixels)");
                    if (data[10] != 0 || data[11] != 0 || interlace > 1) throw new DejaException("unsupported PNG compression/filter/interlace method");
                    if (!ValidDepth(color, depth)) throw new DejaException($"invalid PNG colour type {color} with bit depth {depth}");
                    break;
                case "PLTE": palette = data.ToArray(); break;
                case "tRNS": trns = data.ToArray(); break;
                case "IDAT": idat.Write(data); break;
                case "IEND": end = true; break;
            }
            pos += 12 + len;
        }
        if (color < 0) throw new DejaException("corrupt PNG (no IHDR)");
        if (color == 3 && palette is null) throw new DejaException("corrupt PNG (palette image without PLTE)");
        return new PngChunks(width, height, depth, color, interlace == 1, palette, trns, idat.ToArray());
    }

    /// <summary>Chunk names are four ASCII letters; anything else is shown as hex so messages stay printable.</summary>
    static string ChunkName(ReadOnlySpan<byte> type)
    {
        foreach (var b in type)
            if (!char.IsAsciiLetter((char)b)) return "0x" + Convert.ToHexString(type);
        return System.Text.Encoding.ASCII.GetString(type);
    }

    static bool ValidDepth(int color, int depth) => color switch
    {
        0 => depth is 1 or 2 or 4 or 8 or 16,
        3 => depth is 1 or 2 or 4 or 8,
        2 or 4 or 6 => depth is 8 or 16,
        _ => false,
    };
}

/// <summary>The seven passes of Adam7 interlacing: origin and step of each sub-image on the 8×8 pattern.</summary>
internal static class Adam7
{
    public static readonly int[] StartX = [0, 4, 0, 2, 0, 1, 0], StartY = [0, 0, 4, 0, 2, 0, 1];
    public static readonly int[] StepX = [8, 8, 4, 4, 2, 2, 1], StepY = [8, 8, 8, 4, 4, 2, 2];

    public static IEnumerable<(int Width, int Height)> PassSizes(int width, int height)
    {
        for (int p = 0; p < 7; p++)
            yield return ((width - StartX[p] + StepX[p] - 1) / StepX[p], (height - StartY[p] + StepY[p] - 1) / StepY[p]);
    }
}
