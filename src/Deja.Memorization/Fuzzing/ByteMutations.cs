using System.Buffers.Binary;

namespace Deja.Memorization.Fuzzing;

/// <summary>Format-blind mutations: bit flips, byte insertions, deletions and overwrites, interesting integers, truncation.</summary>
public static class ByteMutations
{
    /// <summary>Integers that sit on the edges parsers get wrong (sizes, counts, signs, 2^31, 2^32, 10^12).</summary>
    static readonly ulong[] Interesting =
    [
        0, 1, 2, 7, 8, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF,
        0x1_0000_0000, 1_000_000_000_000, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, ulong.MaxValue,
    ];

    public static IReadOnlyList<FuzzMutation> All { get; } =
    [
        FlipBits, SetByte, InsertBytes, DeleteBytes, OverwriteBytes, WriteInteger, DuplicateRange, Truncate, Append,
    ];

    public static byte[]? FlipBits(byte[] input, FuzzRandom random)
    {
        if (input.Length == 0) return null;
        var b = (byte[])input.Clone();
        int flips = random.Between(1, 8);
        for (int i = 0; i < flips; i++) b[random.Position(b.Length)] ^= (byte)(1 << random.Next(8));
        return b;
    }

    public static byte[]? SetByte(byte[] input, FuzzRandom random)
    {
        if (input.Length == 0) return null;
        var b = (byte[])input.Clone();
        b[random.Position(b.Length)] = random.Pick((byte[])[0x00, 0xFF, 0x7F, 0x80, 0x20, (byte)'"', (byte)'{', (byte)'\n', (byte)random.Next(256)]);
        return b;
    }

    /// <summary>1–150 random bytes at a random place (issue 12 §5's damage to weights files).</summary>
    public static byte[]? InsertBytes(byte[] input, FuzzRandom random)
    {
        int at = random.Position(input.Length + 1);
        return [.. input.AsSpan(0, at), .. random.Bytes(random.Between(1, 150)), .. input.AsSpan(at)];
    }

    public static byte[]? DeleteBytes(byte[] input, FuzzRandom random)
    {
        if (input.Length < 2) return null;
        int at = random.Position(input.Length), n = Math.Min(random.Between(1, 150), input.Length - at);
        return [.. input.AsSpan(0, at), .. input.AsSpan(at + n)];
    }

    /// <summary>1–150 bytes overwritten in place (the length stays, so length checks pass).</summary>
    public static byte[]? OverwriteBytes(byte[] input, FuzzRandom random)
    {
        if (input.Length == 0) return null;
        var b = (byte[])input.Clone();
        int at = random.Next(b.Length), n = Math.Min(random.Between(1, 150), b.Length - at);
        random.Bytes(n).CopyTo(b, at);
        return b;
    }

    /// <summary>An interesting integer, 1, 2, 4 or 8 bytes, either byte order, at a random place.</summary>
    public static byte[]? WriteInteger(byte[] input, FuzzRandom random)
    {
        int width = random.Pick((int[])[1, 2, 4, 8]);
        if (input.Length < width) return null;
        var b = (byte[])input.Clone();
        int at = random.Position(b.Length - width + 1);
        ulong v = random.Pick(Interesting);
        Span<byte> bytes = stackalloc byte[8];
        if (random.Chance(0.5)) BinaryPrimitives.WriteUInt64LittleEndian(bytes, v);
        else BinaryPrimitives.WriteUInt64BigEndian(bytes, v << (64 - 8 * width));
        bytes[..width].CopyTo(b.AsSpan(at));
        return b;
    }

    public static byte[]? DuplicateRange(byte[] input, FuzzRandom random)
    {
        if (input.Length == 0) return null;
        int from = random.Next(input.Length), n = Math.Min(random.Between(1, 256), input.Length - from), to = random.Next(input.Length + 1);
        return [.. input.AsSpan(0, to), .. input.AsSpan(from, n), .. input.AsSpan(to)];
    }

    public static byte[]? Truncate(byte[] input, FuzzRandom random) =>
        input.Length == 0 ? null : input[..random.Next(input.Length)];

    public static byte[]? Append(byte[] input, FuzzRandom random) =>
        [.. input, .. random.Chance(0.5) ? random.Bytes(random.Between(1, 150)) : new byte[random.Between(1, 64)]];
}
