using System.Buffers.Binary;
using System.IO.Compression;

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

    static int Paeth(int a, int b, int c)
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

    public static Image Read(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new IOException($"{path}: cannot read ({e.Message})", e); }
        try { return Decode(bytes); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{path}: {e.Message}", e); }
    }

    public static Image Decode(ReadOnlySpan<byte> png)
    {
        if (png.Length < 8 || !png[..8].SequenceEqual(Signature)) throw new InvalidDataException("not a PNG file (bad signature)");
        int pos = 8, width = 0, height = 0, depth = 0, color = -1, interlace = 0;
        byte[]? palette = null, trns = null;
        using var idat = new MemoryStream();
        bool end = false;
        while (!end)
        {
            if (pos + 8 > png.Length) throw new InvalidDataException("truncated PNG (chunk header past the end)");
            int len = BinaryPrimitives.ReadInt32BigEndian(png[pos..]);
            var typeBytes = png.Slice(pos + 4, 4);
            string type = System.Text.Encoding.ASCII.GetString(typeBytes);
            if (len < 0 || pos + 12L + len > png.Length) throw new InvalidDataException($"truncated PNG (chunk {type} runs past the end)");
            var data = png.Slice(pos + 8, len);
            uint crc = BinaryPrimitives.ReadUInt32BigEndian(png[(pos + 8 + len)..]);
            if ((Crc32.Update(Crc32.Update(0xFFFFFFFFu, typeBytes), data) ^ 0xFFFFFFFFu) != crc)
                throw new InvalidDataException($"corrupt PNG (CRC mismatch in chunk {type})");
            switch (type)
            {
                case "IHDR":
                    if (len != 13) throw new InvalidDataException("corrupt PNG (IHDR size)");
                    width = BinaryPrimitives.ReadInt32BigEndian(data);
                    height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                    depth = data[8]; color = data[9]; interlace = data[12];
                    if (width <= 0 || height <= 0 || (long)width * height > 1L << 28) throw new InvalidDataException($"unsupported PNG size {width}×{height}");
                    if (data[10] != 0 || data[11] != 0 || interlace > 1) throw new InvalidDataException("unsupported PNG compression/filter/interlace method");
                    if (!ValidDepth(color, depth)) throw new InvalidDataException($"invalid PNG colour type {color} with bit depth {depth}");
                    break;
                case "PLTE": palette = data.ToArray(); break;
                case "tRNS": trns = data.ToArray(); break;
                case "IDAT": idat.Write(data); break;
                case "IEND": end = true; break;
            }
            pos += 12 + len;
        }
        if (color < 0) throw new InvalidDataException("corrupt PNG (no IHDR)");
        if (color == 3 && palette is null) throw new InvalidDataException("corrupt PNG (palette image without PLTE)");
        byte[] raw;
        try
        {
            idat.Position = 0;
            using var z = new ZLibStream(idat, CompressionMode.Decompress);
            using var o = new MemoryStream();
            z.CopyTo(o);
            raw = o.ToArray();
        }
        catch (InvalidDataException e) { throw new InvalidDataException($"corrupt PNG image data ({e.Message})"); }

        int samples = color switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, _ => 4 };
        int outChannels = color switch { 0 => 1, 4 => 2, 2 => 3, 6 => 4, _ => trns is null ? 3 : 4 };
        var img = new Image(width, height, outChannels);
        int bitsPerPixel = samples * depth;
        int bpp = Math.Max(1, bitsPerPixel / 8); // filter distance in bytes
        int rawPos = 0;
        void Sink(int x, int y, ReadOnlySpan<int> px) => Put(img, x, y, px, color, depth, palette, trns);
        if (interlace == 0)
            rawPos = DecodePass(raw, rawPos, width, height, samples, depth, bpp, Sink);
        else
        {
            // Adam7: seven sub-images, each unfiltered on its own, scattered onto the 8×8 pattern.
            int[] sx = [0, 4, 0, 2, 0, 1, 0], sy = [0, 0, 4, 0, 2, 0, 1], dx = [8, 8, 4, 4, 2, 2, 1], dy = [8, 8, 8, 4, 4, 2, 2];
            for (int p = 0; p < 7; p++)
            {
                int pw = (width - sx[p] + dx[p] - 1) / dx[p], ph = (height - sy[p] + dy[p] - 1) / dy[p];
                if (pw <= 0 || ph <= 0) continue;
                int pp = p;
                rawPos = DecodePass(raw, rawPos, pw, ph, samples, depth, bpp,
                    (x, y, px) => Put(img, sx[pp] + x * dx[pp], sy[pp] + y * dy[pp], px, color, depth, palette, trns));
            }
        }
        return img;
    }

    static bool ValidDepth(int color, int depth) => color switch
    {
        0 => depth is 1 or 2 or 4 or 8 or 16,
        3 => depth is 1 or 2 or 4 or 8,
        2 or 4 or 6 => depth is 8 or 16,
        _ => false,
    };

    delegate void PixelSink(int x, int y, ReadOnlySpan<int> samples);

    /// <summary>Unfilters one (sub)image and hands each pixel's samples to <paramref name="sink"/>.</summary>
    static int DecodePass(byte[] raw, int pos, int w, int h, int samples, int depth, int bpp, PixelSink sink)
    {
        int stride = (w * samples * depth + 7) / 8;
        if (pos + (long)(stride + 1) * h > raw.Length) throw new InvalidDataException("truncated PNG image data");
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
                    4 => (byte)(cur[i] + Paeth(a, b, c)),
                    _ => throw new InvalidDataException($"corrupt PNG (filter type {f})"),
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

    static void Put(Image img, int x, int y, ReadOnlySpan<int> s, int color, int depth, byte[]? palette, byte[]? trns)
    {
        int o = (y * img.Width + x) * img.Channels;
        byte To8(int v) => depth switch { 16 => (byte)((v * 255 + 32767) / 65535), 8 => (byte)v, _ => (byte)(v * 255 / ((1 << depth) - 1)) };
        switch (color)
        {
            case 3:
                int idx = s[0];
                if (idx * 3 + 2 >= palette!.Length) throw new InvalidDataException($"corrupt PNG (palette index {idx} out of range)");
                img.Pixels[o] = palette[idx * 3]; img.Pixels[o + 1] = palette[idx * 3 + 1]; img.Pixels[o + 2] = palette[idx * 3 + 2];
                if (img.Channels == 4) img.Pixels[o + 3] = idx < trns!.Length ? trns[idx] : (byte)255;
                break;
            default:
                for (int c = 0; c < img.Channels; c++) img.Pixels[o + c] = To8(s[c]);
                break;
        }
    }
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
