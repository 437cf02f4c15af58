using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Deja.Diffusion.IO;

/// <summary>
/// XXH3-64 (xxHash 0.8, seed 0, default secret): the fast non-cryptographic hash Deja uses to identify
/// weights by their full contents while they are read. Written from the published algorithm (the
/// System.IO.Hashing package is not available offline); the tests check it against <c>xxhsum -H3</c>.
/// Inputs above 240 bytes run the stripe loop with AVX-512 or AVX2 when the CPU has them, so hashing
/// costs a small fraction of reading the same bytes.
/// </summary>
public static class XxHash3
{
    const ulong Prime32_1 = 0x9E3779B1UL, Prime32_2 = 0x85EBCA77UL, Prime32_3 = 0xC2B2AE3DUL;
    const ulong Prime64_1 = 0x9E3779B185EBCA87UL, Prime64_2 = 0xC2B2AE3D27D4EB4FUL, Prime64_3 = 0x165667B19E3779F9UL;
    const ulong Prime64_4 = 0x85EBCA77C2B2AE63UL, Prime64_5 = 0x27D4EB2F165667C5UL;
    const ulong PrimeMx1 = 0x165667919E3779F9UL, PrimeMx2 = 0x9FB21C651E98DF25UL;

    const int StripeBytes = 64, SecretBytes = 192, SecretConsumeRate = 8;
    const int StripesPerBlock = (SecretBytes - StripeBytes) / SecretConsumeRate; // 16
    const int BlockBytes = StripeBytes * StripesPerBlock;                        // 1024
    const int LastStripeSecretOffset = SecretBytes - StripeBytes - 7;
    const int MergeSecretOffset = 11;

    static ReadOnlySpan<byte> Secret =>
    [
        0xb8, 0xfe, 0x6c, 0x39, 0x23, 0xa4, 0x4b, 0xbe, 0x7c, 0x01, 0x81, 0x2c, 0xf7, 0x21, 0xad, 0x1c,
        0xde, 0xd4, 0x6d, 0xe9, 0x83, 0x90, 0x97, 0xdb, 0x72, 0x40, 0xa4, 0xa4, 0xb7, 0xb3, 0x67, 0x1f,
        0xcb, 0x79, 0xe6, 0x4e, 0xcc, 0xc0, 0xe5, 0x78, 0x82, 0x5a, 0xd0, 0x7d, 0xcc, 0xff, 0x72, 0x21,
        0xb8, 0x08, 0x46, 0x74, 0xf7, 0x43, 0x24, 0x8e, 0xe0, 0x35, 0x90, 0xe6, 0x81, 0x3a, 0x26, 0x4c,
        0x3c, 0x28, 0x52, 0xbb, 0x91, 0xc3, 0x00, 0xcb, 0x88, 0xd0, 0x65, 0x8b, 0x1b, 0x53, 0x2e, 0xa3,
        0x71, 0x64, 0x48, 0x97, 0xa2, 0x0d, 0xf9, 0x4e, 0x38, 0x19, 0xef, 0x46, 0xa9, 0xde, 0xac, 0xd8,
        0xa8, 0xfa, 0x76, 0x3f, 0xe3, 0x9c, 0x34, 0x3f, 0xf9, 0xdc, 0xbb, 0xc7, 0xc7, 0x0b, 0x4f, 0x1d,
        0x8a, 0x51, 0xe0, 0x4b, 0xcd, 0xb4, 0x59, 0x31, 0xc8, 0x9f, 0x7e, 0xc9, 0xd9, 0x78, 0x73, 0x64,
        0xea, 0xc5, 0xac, 0x83, 0x34, 0xd3, 0xeb, 0xc3, 0xc5, 0x81, 0xa0, 0xff, 0xfa, 0x13, 0x63, 0xeb,
        0x17, 0x0d, 0xdd, 0x51, 0xb7, 0xf0, 0xda, 0x49, 0xd3, 0x16, 0x55, 0x26, 0x29, 0xd4, 0x68, 0x9e,
        0x2b, 0x16, 0xbe, 0x58, 0x7d, 0x47, 0xa1, 0xfc, 0x8f, 0xf8, 0xb8, 0xd1, 0x7a, 0xd0, 0x31, 0xce,
        0x45, 0xcb, 0x3a, 0x8f, 0x95, 0x16, 0x04, 0x28, 0xaf, 0xd7, 0xfb, 0xca, 0xbb, 0x4b, 0x40, 0x7e,
    ];

    /// <summary>The XXH3-64 hash of <paramref name="data"/> (what <c>xxhsum -H3</c> prints, as a number).</summary>
    public static ulong Hash(ReadOnlySpan<byte> data) => Hash(data, VectorBits);

    /// <summary>The widest vector path this CPU runs: 512, 256 or 0 (scalar).</summary>
    internal static int VectorBits { get; } = Avx512F.IsSupported ? 512 : Avx2.IsSupported ? 256 : 0;

    /// <summary>The hash with the stripe loop limited to <paramref name="vectorBits"/> (tests compare all paths).</summary>
    internal static ulong Hash(ReadOnlySpan<byte> data, int vectorBits) => data.Length switch
    {
        0 => Avalanche64(R64(Secret, 56) ^ R64(Secret, 64)),
        <= 3 => Length1To3(data),
        <= 8 => Length4To8(data),
        <= 16 => Length9To16(data),
        <= 128 => Length17To128(data),
        <= 240 => Length129To240(data),
        _ => Long(data, Math.Min(vectorBits, VectorBits)),
    };

    static ulong Length1To3(ReadOnlySpan<byte> d)
    {
        uint combined = ((uint)d[0] << 16) | ((uint)d[d.Length >> 1] << 24) | d[^1] | ((uint)d.Length << 8);
        ulong bitflip = R32(Secret, 0) ^ R32(Secret, 4);
        return Avalanche64(combined ^ bitflip);
    }

    static ulong Length4To8(ReadOnlySpan<byte> d)
    {
        ulong input = R32(d, d.Length - 4) + ((ulong)R32(d, 0) << 32);
        ulong bitflip = R64(Secret, 8) ^ R64(Secret, 16);
        return RrMxMx(input ^ bitflip, (ulong)d.Length);
    }

    static ulong Length9To16(ReadOnlySpan<byte> d)
    {
        ulong lo = R64(d, 0) ^ (R64(Secret, 24) ^ R64(Secret, 32));
        ulong hi = R64(d, d.Length - 8) ^ (R64(Secret, 40) ^ R64(Secret, 48));
        ulong acc = (ulong)d.Length + BinaryPrimitives.ReverseEndianness(lo) + hi + MulFold(lo, hi);
        return Avalanche(acc);
    }

    static ulong Length17To128(ReadOnlySpan<byte> d)
    {
        int n = d.Length;
        ulong acc = (ulong)n * Prime64_1;
        if (n > 32)
        {
            if (n > 64)
            {
                if (n > 96)
                {
                    acc += Mix16(d, 48, 96);
                    acc += Mix16(d, n - 64, 112);
                }
                acc += Mix16(d, 32, 64);
                acc += Mix16(d, n - 48, 80);
            }
            acc += Mix16(d, 16, 32);
            acc += Mix16(d, n - 32, 48);
        }
        acc += Mix16(d, 0, 0);
        acc += Mix16(d, n - 16, 16);
        return Avalanche(acc);
    }

    static ulong Length129To240(ReadOnlySpan<byte> d)
    {
        int n = d.Length, rounds = n / 16;
        ulong acc = (ulong)n * Prime64_1;
        for (int i = 0; i < 8; i++) acc += Mix16(d, 16 * i, 16 * i);
        acc = Avalanche(acc);
        for (int i = 8; i < rounds; i++) acc += Mix16(d, 16 * i, 16 * (i - 8) + 3);
        acc += Mix16(d, n - 16, 136 - 17);
        return Avalanche(acc);
    }

    static ulong Mix16(ReadOnlySpan<byte> d, int at, int secretAt) =>
        MulFold(R64(d, at) ^ R64(Secret, secretAt), R64(d, at + 8) ^ R64(Secret, secretAt + 8));

    // ------------------------------------------------------------------ inputs above 240 bytes

    static unsafe ulong Long(ReadOnlySpan<byte> data, int vectorBits)
    {
        ulong* acc = stackalloc ulong[8];
        acc[0] = Prime32_3; acc[1] = Prime64_1; acc[2] = Prime64_2; acc[3] = Prime64_3;
        acc[4] = Prime64_4; acc[5] = Prime32_2; acc[6] = Prime64_5; acc[7] = Prime32_1;
        int n = data.Length, blocks = (n - 1) / BlockBytes;
        fixed (byte* input = data)
        fixed (byte* secret = Secret)
        {
            if (vectorBits >= 512 && Avx512F.IsSupported) Blocks512(acc, input, secret, blocks);
            else
                for (int b = 0; b < blocks; b++)
                {
                    Accumulate(acc, input + (long)b * BlockBytes, secret, StripesPerBlock, vectorBits);
                    Scramble(acc, secret + SecretBytes - StripeBytes);
                }
            int stripes = (n - 1 - blocks * BlockBytes) / StripeBytes;
            Accumulate(acc, input + (long)blocks * BlockBytes, secret, stripes, vectorBits);
            Accumulate(acc, input + n - StripeBytes, secret + LastStripeSecretOffset, 1, vectorBits, secretStep: 0);

            ulong result = (ulong)n * Prime64_1;
            for (int i = 0; i < 4; i++)
                result += MulFold(acc[2 * i] ^ Unaligned64(secret + MergeSecretOffset + 16 * i),
                                  acc[2 * i + 1] ^ Unaligned64(secret + MergeSecretOffset + 16 * i + 8));
            return Avalanche(result);
        }
    }

    /// <summary>
    /// For each 64-byte stripe s (secret advanced by 8 bytes per stripe): with k = data ^ key per 8-byte lane,
    /// acc[i] += lo32(k)·hi32(k) and acc[i^1] += data. The vector paths do exactly this per lane.
    /// </summary>
    static unsafe void Accumulate(ulong* acc, byte* input, byte* secret, int stripes, int vectorBits, int secretStep = SecretConsumeRate)
    {
        if (vectorBits >= 512 && Avx512F.IsSupported)
        {
            var a = Avx512F.LoadVector512(acc);
            for (int s = 0; s < stripes; s++)
            {
                var data = Vector512.Load((ulong*)(input + s * StripeBytes));
                var key = data ^ Vector512.Load((ulong*)(secret + s * secretStep));
                var product = Avx512F.Multiply(key.AsUInt32(), Avx512F.ShiftRightLogical(key, 32).AsUInt32());
                var swapped = Avx512F.Shuffle(data.AsUInt32(), 0b01_00_11_10).AsUInt64(); // swap the 64-bit halves of each 128-bit lane
                a = a + product + swapped;
            }
            a.Store(acc);
            return;
        }
        if (vectorBits >= 256 && Avx2.IsSupported)
        {
            var lo = Avx.LoadVector256(acc);
            var hi = Avx.LoadVector256(acc + 4);
            for (int s = 0; s < stripes; s++)
            {
                byte* p = input + s * StripeBytes, k = secret + s * secretStep;
                lo = Step256(lo, Vector256.Load((ulong*)p), Vector256.Load((ulong*)k));
                hi = Step256(hi, Vector256.Load((ulong*)(p + 32)), Vector256.Load((ulong*)(k + 32)));
            }
            lo.Store(acc);
            hi.Store(acc + 4);
            return;
        }
        for (int s = 0; s < stripes; s++)
            for (int i = 0; i < 8; i++)
            {
                ulong data = Unaligned64(input + s * StripeBytes + 8 * i);
                ulong key = data ^ Unaligned64(secret + s * secretStep + 8 * i);
                acc[i ^ 1] += data;
                acc[i] += (key & 0xFFFFFFFFUL) * (key >> 32);
            }
    }

    /// <summary>
    /// The full blocks with the accumulators held in one register throughout and the scramble vectorized
    /// too (a·PRIME32_1 as two 32×32→64 products), the bulk of hashing a large tensor.
    /// </summary>
    static unsafe void Blocks512(ulong* acc, byte* input, byte* secret, int blocks)
    {
        var a = Avx512F.LoadVector512(acc);
        var scrambleKey = Vector512.Load((ulong*)(secret + SecretBytes - StripeBytes));
        var prime = Vector512.Create((ulong)Prime32_1).AsUInt32();
        for (int b = 0; b < blocks; b++)
        {
            byte* block = input + (long)b * BlockBytes;
            for (int s = 0; s < StripesPerBlock; s++)
            {
                var data = Vector512.Load((ulong*)(block + s * StripeBytes));
                var key = data ^ Vector512.Load((ulong*)(secret + s * SecretConsumeRate));
                var product = Avx512F.Multiply(key.AsUInt32(), Avx512F.ShiftRightLogical(key, 32).AsUInt32());
                a = a + product + Avx512F.Shuffle(data.AsUInt32(), 0b01_00_11_10).AsUInt64();
            }
            a = (a ^ Avx512F.ShiftRightLogical(a, 47)) ^ scrambleKey;
            var low = Avx512F.Multiply(a.AsUInt32(), prime);
            var high = Avx512F.Multiply(Avx512F.ShiftRightLogical(a, 32).AsUInt32(), prime);
            a = low + Avx512F.ShiftLeftLogical(high, 32);
        }
        a.Store(acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<ulong> Step256(Vector256<ulong> acc, Vector256<ulong> data, Vector256<ulong> secret)
    {
        var key = data ^ secret;
        var product = Avx2.Multiply(key.AsUInt32(), Avx2.ShiftRightLogical(key, 32).AsUInt32());
        var swapped = Avx2.Shuffle(data.AsUInt32(), 0b01_00_11_10).AsUInt64();
        return acc + product + swapped;
    }

    static unsafe void Scramble(ulong* acc, byte* secret)
    {
        for (int i = 0; i < 8; i++)
        {
            ulong a = acc[i];
            a ^= a >> 47;
            a ^= Unaligned64(secret + 8 * i);
            acc[i] = a * Prime32_1;
        }
    }

    // ------------------------------------------------------------------ mixing

    static ulong MulFold(ulong a, ulong b)
    {
        ulong hi = Math.BigMul(a, b, out ulong lo);
        return hi ^ lo;
    }

    static ulong Avalanche64(ulong h)
    {
        h ^= h >> 33;
        h *= Prime64_2;
        h ^= h >> 29;
        h *= Prime64_3;
        return h ^ (h >> 32);
    }

    static ulong Avalanche(ulong h)
    {
        h ^= h >> 37;
        h *= PrimeMx1;
        return h ^ (h >> 32);
    }

    static ulong RrMxMx(ulong h, ulong length)
    {
        h ^= BitOperations.RotateLeft(h, 49) ^ BitOperations.RotateLeft(h, 24);
        h *= PrimeMx2;
        h ^= (h >> 35) + length;
        h *= PrimeMx2;
        return h ^ (h >> 28);
    }

    static ulong R64(ReadOnlySpan<byte> s, int at) => BinaryPrimitives.ReadUInt64LittleEndian(s[at..]);
    static uint R32(ReadOnlySpan<byte> s, int at) => BinaryPrimitives.ReadUInt32LittleEndian(s[at..]);
    static unsafe ulong Unaligned64(byte* p) => BitConverter.IsLittleEndian ? Unsafe.ReadUnaligned<ulong>(p) : BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<ulong>(p));
}
