using System.Buffers.Binary;
using System.IO.Compression;
using Deja.Tensors;

namespace Deja.Diffusion.Images;

/// <summary>
/// PNG encoding and decoding with System.IO.Compression (no imaging library is available to us).
/// Writes 8-bit gray/RGB/RGBA with a per-row adaptive filter; reads 8- and 16-bit gray,
/// gray+alpha, RGB, RGBA and palette images (1/2/4/8-bit), non-interlaced and Adam7-interlaced.
/// </summary>
public static class Png
{
    static readonly byte[] Signature = [137, 80, 78, 71, 13, 10, 26, 10];

    // ---------------------------------------------------------------- writing

    public static void Write(string path, Image image)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        var tmp = Path.Combine(dir, "." + Path.GetFileName(path) + ".tmp");
        using (var fs = File.Create(tmp)) Write(fs, image);
        File.Move(tmp, path, overwrite: true);
    }

    public static void Write(Stream output, Image image)
    {
        output.Write(Signature);
        Span<byte> ihdr = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, image.Width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr[4..], image.Height);
        ihdr[8] = 8;
        ihdr[9] = image.Channels switch { 1 => 0, 2 => 4, 3 => 2, _ => 6 };
        ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
        WriteChunk(output, "IHDR", ihdr);

        int bpp = image.Channels, stride = image.Width * bpp;
        var raw = new byte[(long)(stride + 1) * image.Height];
        var prev = new byte[stride];
        var cand = new byte[stride];
        for (int y = 0; y < image.Height; y++)
        {
            var row = image.Pixels.AsSpan(y * stride, stride);
            var dst = raw.AsSpan(y * (stride + 1), stride + 1);
            // Pick the filter with the smallest sum of absolute signed bytes (the usual heuristic).
            long best = long.MaxValue;
            for (byte f = 0; f <= 4; f++)
            {
                Filter(f, row, prev, bpp, cand);
                long score = 0;
                foreach (var b in cand) score += Math.Abs((int)(sbyte)b);
                if (score < best) { best = score; dst[0] = f; cand.CopyTo(dst[1..]); }
            }
            row.CopyTo(prev);
        }
        using var ms = new MemoryStream();
        using (var z = new ZLibStream(ms, CompressionLevel.Optimal, leaveOpen: true)) z.Write(raw);
        WriteChunk(output, "IDAT", ms.ToArray());
        WriteChunk(output, "IEND", []);
    }

    static void Filter(byte type, ReadOnlySpan<byte> row, ReadOnlySpan<byte> prev, int bpp, Span<byte> o)
    {
        for (int i = 0; i < row.Length; i++)
        {
            int a = i >= bpp ? row[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
            int p = type switch { 0 => 0, 1 => a, 2 => b, 3 => (a + b) >> 1, _ => Paeth(a, b, c) };
            o[i] = (byte)(row[i] - p);
        }
    }

    internal static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    static void WriteChunk(Stream s, string type, ReadOnlySpan<byte> data)
    {
        Span<byte> head = stackalloc byte[8];
        BinaryPrimitives.WriteInt32BigEndian(head, data.Length);
        for (int i = 0; i < 4; i++) head[4 + i] = (byte)type[i];
        s.Write(head);
        s.Write(data);
        uint crc = Crc32.Update(Crc32.Update(0xFFFFFFFFu, head[4..]), data) ^ 0xFFFFFFFFu;
        Span<byte> c = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(c, crc);
        s.Write(c);
    }

    // ---------------------------------------------------------------- reading

    /// <summary>Reads a PNG file; a missing, unreadable or damaged file is a <see cref="DejaException"/> naming it.</summary>
    public static Image Read(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new DejaException($"image '{path}' cannot be read ({e.Message})", e); }
        try { return Decode(bytes); }
        catch (DejaException e) { throw new DejaException($"image '{path}': {e.Message}", e); }
    }

    /// <summary>Decodes PNG bytes; damage is a <see cref="DejaException"/> saying what is wrong.</summary>
    public static Image Decode(ReadOnlySpan<byte> png) => PngPixels.Decode(PngChunks.Parse(png));
}

/// <summary>CRC-32 (IEEE 802.3), as PNG chunks use it.</summary>
internal static class Crc32
{
    static readonly uint[] Table = Build();

    static uint[] Build()
    {
        var t = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[n] = c;
        }
        return t;
    }

    public static uint Update(uint crc, ReadOnlySpan<byte> data)
    {
        foreach (var b in data) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc;
    }
}
