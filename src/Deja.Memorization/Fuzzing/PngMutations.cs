using System.Buffers.Binary;
using System.IO.Compression;

namespace Deja.Memorization.Fuzzing;

/// <summary>
/// Mutations that know PNG's chunk structure: IHDR fields, palette and transparency chunks, the inflated
/// pixel rows (filter bytes included) and the chunk order are changed and the CRCs recomputed, so inputs
/// get past the CRC check into header validation, inflation and unfiltering.
/// </summary>
public static class PngMutations
{
    static readonly byte[] Signature = [137, 80, 78, 71, 13, 10, 26, 10];

    public static IReadOnlyList<FuzzMutation> All { get; } =
        [EditHeader, EditHeader, EditPixelRows, EditPixelRows, EditPalette, ReorderChunks, SplitImageData, CorruptChunkKeepingCrc];

    sealed record Chunk(string Type, byte[] Data);

    static List<Chunk>? Parse(byte[] png)
    {
        if (png.Length < 8 || !png.AsSpan(0, 8).SequenceEqual(Signature)) return null;
        var chunks = new List<Chunk>();
        int pos = 8;
        while (pos + 12 <= png.Length)
        {
            int len = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(pos));
            if (len < 0 || pos + 12L + len > png.Length) return null;
            chunks.Add(new Chunk(System.Text.Encoding.Latin1.GetString(png, pos + 4, 4), png[(pos + 8)..(pos + 8 + len)]));
            pos += 12 + len;
        }
        return chunks;
    }

    /// <summary>Writes the chunks with correct CRCs, except, rarely, a wrong one to keep the CRC check itself exercised.</summary>
    static byte[] Build(List<Chunk> chunks, FuzzRandom random)
    {
        using var s = new MemoryStream();
        s.Write(Signature);
        int wrong = random.Chance(0.03) ? random.Next(chunks.Count) : -1;
        Span<byte> head = stackalloc byte[8];
        Span<byte> crc = stackalloc byte[4];
        for (int i = 0; i < chunks.Count; i++)
        {
            var (type, data) = (chunks[i].Type, chunks[i].Data);
            BinaryPrimitives.WriteInt32BigEndian(head, data.Length);
            System.Text.Encoding.Latin1.GetBytes(type, head[4..]);
            s.Write(head);
            s.Write(data);
            BinaryPrimitives.WriteUInt32BigEndian(crc, Crc(head[4..], data) ^ (i == wrong ? 1u : 0u));
            s.Write(crc);
        }
        return s.ToArray();
    }

    /// <summary>Width, height, bit depth, colour type, compression, filter or interlace method set to edge values.</summary>
    public static byte[]? EditHeader(byte[] input, FuzzRandom random)
    {
        if (Parse(input) is not { } chunks || chunks.FindIndex(c => c.Type == "IHDR") is var at && at < 0 || chunks[at].Data.Length != 13) return null;
        var data = (byte[])chunks[at].Data.Clone();
        switch (random.Next(5))
        {
            case 0 or 1:
                int field = random.Next(2) * 4;
                int current = BinaryPrimitives.ReadInt32BigEndian(data.AsSpan(field));
                int value = random.Pick((int[])[0, 1, current + 1, current - 1, current * 2, current * 100, 65535, 65536, 1 << 20, 1 << 26, int.MaxValue, -1]);
                BinaryPrimitives.WriteInt32BigEndian(data.AsSpan(field), value);
                break;
            case 2: data[8] = random.Pick((byte[])[1, 2, 4, 8, 16, 0, 3, 32]); break;
            case 3: data[9] = random.Pick((byte[])[0, 2, 3, 4, 6, 1, 5, 7]); break;
            default: data[10 + random.Next(3)] = random.Pick((byte[])[0, 1, 2]); break;
        }
        chunks[at] = chunks[at] with { Data = data };
        return Build(chunks, random);
    }

    /// <summary>The inflated rows are changed (filter bytes, samples, length) and deflated again.</summary>
    public static byte[]? EditPixelRows(byte[] input, FuzzRandom random)
    {
        if (Parse(input) is not { } chunks) return null;
        var compressed = chunks.Where(c => c.Type == "IDAT").SelectMany(c => c.Data).ToArray();
        byte[] raw;
        try
        {
            using var z = new ZLibStream(new MemoryStream(compressed), CompressionMode.Decompress);
            using var o = new MemoryStream();
            z.CopyTo(o);
            raw = o.ToArray();
        }
        catch (InvalidDataException) { return null; }
        if (raw.Length == 0) return null;
        raw = random.Next(4) switch
        {
            0 => raw[..random.Next(raw.Length)],
            1 => [.. raw, .. random.Bytes(random.Between(1, 200))],
            _ => Scribble(raw, random),
        };
        using var packed = new MemoryStream();
        using (var z = new ZLibStream(packed, CompressionLevel.Fastest, leaveOpen: true)) z.Write(raw);
        int first = chunks.FindIndex(c => c.Type == "IDAT");
        chunks.RemoveAll(c => c.Type == "IDAT");
        chunks.Insert(Math.Max(0, Math.Min(first, chunks.Count)), new Chunk("IDAT", packed.ToArray()));
        return Build(chunks, random);
    }

    static byte[] Scribble(byte[] raw, FuzzRandom random)
    {
        var b = (byte[])raw.Clone();
        int n = random.Between(1, 8);
        for (int i = 0; i < n; i++) b[random.Next(b.Length)] = random.Chance(0.5) ? random.Pick((byte[])[0, 1, 2, 3, 4, 5, 255]) : (byte)random.Next(256);
        return b;
    }

    /// <summary>PLTE or tRNS shortened, lengthened or added where the colour type has none.</summary>
    public static byte[]? EditPalette(byte[] input, FuzzRandom random)
    {
        if (Parse(input) is not { } chunks) return null;
        string type = random.Chance(0.6) ? "PLTE" : "tRNS";
        int at = chunks.FindIndex(c => c.Type == type);
        var data = random.Next(3) switch
        {
            0 => Array.Empty<byte>(),
            1 => random.Bytes(random.Between(1, 10)),
            _ => random.Bytes(random.Between(3, 800)),
        };
        if (at >= 0) chunks[at] = chunks[at] with { Data = data };
        else chunks.Insert(Math.Min(1, chunks.Count), new Chunk(type, data));
        return Build(chunks, random);
    }

    /// <summary>Chunks dropped, duplicated or swapped (no IHDR, IEND first, two IHDRs…).</summary>
    public static byte[]? ReorderChunks(byte[] input, FuzzRandom random)
    {
        if (Parse(input) is not { Count: > 0 } chunks) return null;
        int a = random.Next(chunks.Count), b = random.Next(chunks.Count);
        switch (random.Next(3))
        {
            case 0: chunks.RemoveAt(a); break;
            case 1: chunks.Insert(b, chunks[a]); break;
            default: (chunks[a], chunks[b]) = (chunks[b], chunks[a]); break;
        }
        return Build(chunks, random);
    }

    /// <summary>The image data split over several IDAT chunks (valid), or with an unknown chunk in between.</summary>
    public static byte[]? SplitImageData(byte[] input, FuzzRandom random)
    {
        if (Parse(input) is not { } chunks || chunks.FindIndex(c => c.Type == "IDAT") is var at && at < 0 || chunks[at].Data.Length < 2) return null;
        var data = chunks[at].Data;
        int cut = random.Between(1, data.Length - 1);
        chunks[at] = new Chunk("IDAT", data[..cut]);
        chunks.Insert(at + 1, new Chunk("IDAT", data[cut..]));
        if (random.Chance(0.3)) chunks.Insert(at + 1, new Chunk(random.Pick((string[])["tEXt", "zzzz", "IEND", "\0\0\0\0"]), random.Bytes(random.Next(20))));
        return Build(chunks, random);
    }

    /// <summary>Random bytes inside one chunk, with its CRC recomputed: damage the CRC cannot catch.</summary>
    public static byte[]? CorruptChunkKeepingCrc(byte[] input, FuzzRandom random)
    {
        if (Parse(input) is not { Count: > 0 } chunks) return null;
        int at = random.Next(chunks.Count);
        if (chunks[at].Data.Length == 0) return null;
        var data = (byte[])chunks[at].Data.Clone();
        int n = random.Between(1, 4);
        for (int i = 0; i < n; i++) data[random.Next(data.Length)] = (byte)random.Next(256);
        chunks[at] = chunks[at] with { Data = data };
        return Build(chunks, random);
    }

    static uint Crc(ReadOnlySpan<byte> type, ReadOnlySpan<byte> data)
    {
        uint c = 0xFFFFFFFFu;
        foreach (var b in type) c = Step(c, b);
        foreach (var b in data) c = Step(c, b);
        return c ^ 0xFFFFFFFFu;

        static uint Step(uint c, byte b)
        {
            c ^= b;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            return c;
        }
    }
}
