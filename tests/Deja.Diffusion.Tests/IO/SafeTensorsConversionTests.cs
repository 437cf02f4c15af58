using System.Runtime.InteropServices;
using Deja.Diffusion.IO;
using Deja.Tensors;
using Deja.Tensors.Kernels;

namespace Deja.Diffusion.Tests.IO;

/// <summary>Widening from the stored dtypes is exact, checked exhaustively against a decoder written from the bit layout.</summary>
[Collection(Deja.Diffusion.Tests.ThreadSensitive.Name)]
public class SafeTensorsConversionTests
{
    /// <summary>IEEE binary16 / bfloat16 decoded by hand: sign, biased exponent, fraction.</summary>
    static double Decode(uint bits, int exponentBits, int fractionBits)
    {
        int bias = (1 << (exponentBits - 1)) - 1;
        uint fraction = bits & ((1u << fractionBits) - 1);
        uint exponent = (bits >> fractionBits) & ((1u << exponentBits) - 1);
        double sign = ((bits >> (exponentBits + fractionBits)) & 1) == 1 ? -1 : 1;
        if (exponent == (1u << exponentBits) - 1) return fraction == 0 ? sign * double.PositiveInfinity : double.NaN;
        if (exponent == 0) return sign * fraction * Math.Pow(2, 1 - bias - fractionBits); // subnormal (and ±0)
        return sign * (1 + fraction * Math.Pow(2, -fractionBits)) * Math.Pow(2, (int)exponent - bias);
    }

    static void AssertSame(double expected, float actual, string what)
    {
        if (double.IsNaN(expected)) { Assert.True(float.IsNaN(actual), what); return; }
        Assert.True((float)expected == actual && double.IsNegative(expected) == float.IsNegative(actual), $"{what}: expected {expected:R}, got {actual:R}");
    }

    static byte[] AllBitPatterns() => MemoryMarshal.AsBytes(Enumerable.Range(0, 65536).Select(i => (ushort)i).ToArray().AsSpan()).ToArray();

    [Theory]
    [InlineData("F16", 5, 10, SafeTensorsReadMode.PositionalRead)]
    [InlineData("BF16", 8, 7, SafeTensorsReadMode.PositionalRead)]
    [InlineData("F16", 5, 10, SafeTensorsReadMode.MemoryMap)]
    [InlineData("BF16", 8, 7, SafeTensorsReadMode.MemoryMap)]
    public void EveryHalfPrecisionValueWidensExactly(string dtype, int exponentBits, int fractionBits, SafeTensorsReadMode mode)
    {
        using var dir = new TempDir();
        var path = RawSafeTensors.Write(dir, "all.safetensors", "{" + RawSafeTensors.Entry("all", dtype, [256, 256], 0, 131072) + "}", AllBitPatterns());
        using var file = SafeTensorsFile.Open(path, mode, allowNonFinite: true); // every half value, infinities and NaNs included
        using var t = file.ReadTensor("all");
        Assert.Equal([256, 256], t.Shape);
        var values = t.ReadOnlySpan;
        for (int i = 0; i < 65536; i++)
            AssertSame(Decode((uint)i, exponentBits, fractionBits), values[i], $"{dtype} 0x{i:X4}");
    }

    /// <summary>Both vector widths of the BF16 widening (the machine running the tests uses only one of them).</summary>
    [Fact]
    public void BFloat16VectorPathsMatchTheShift()
    {
        var source = Enumerable.Range(0, 65536 + 13).Select(i => (ushort)(i * 40503)).ToArray();
        foreach (var path in new Func<ReadOnlySpan<ushort>, Span<uint>, int>[] { ElementConversion.BFloat16ToSingle512, ElementConversion.BFloat16ToSingle256 })
        {
            var destination = new uint[source.Length];
            int done = path(source, destination);
            Assert.InRange(done, source.Length - 32, source.Length);
            for (int i = 0; i < done; i++) Assert.Equal((uint)source[i] << 16, destination[i]);
        }
    }

    [Fact]
    public void KnownF16AndBF16Values()
    {
        // The same values (where representable) as F16 and BF16 bits: ones, signed zero, the smallest and
        // largest subnormals, the smallest normal, the largest finite value, infinities.
        (ushort F16, ushort BF16)[] known =
        [
            (0x3C00, 0x3F80), (0x8000, 0x8000), (0xC000, 0xC000), (0x3555, 0x3EAA), (0x0001, 0x0001),
            (0x03FF, 0x007F), (0x0400, 0x0080), (0x7BFF, 0x7F7F), (0x7C00, 0x7F80), (0xFC00, 0xFF80),
        ];
        float[] f16Expected = [1f, -0f, -2f, 1365f / 4096, MathF.ScaleB(1, -24), MathF.ScaleB(1023, -24), MathF.ScaleB(1, -14), 65504f,
                               float.PositiveInfinity, float.NegativeInfinity];
        float[] bf16Expected = [1f, -0f, -2f, 170f / 512, MathF.ScaleB(1, -133), MathF.ScaleB(127, -133), MathF.ScaleB(1, -126),
                                MathF.ScaleB(255, 120), float.PositiveInfinity, float.NegativeInfinity];

        using var dir = new TempDir();
        var f16 = known.Select(k => k.F16).Append((ushort)0x7E00).ToArray();
        var bf16 = known.Select(k => k.BF16).Append((ushort)0x7FC0).ToArray();
        var data = MemoryMarshal.AsBytes(f16.AsSpan()).ToArray().Concat(MemoryMarshal.AsBytes(bf16.AsSpan()).ToArray()).ToArray();
        int n = f16.Length;
        var header = "{" + RawSafeTensors.Entry("h", "F16", [n], 0, 2 * n) + "," + RawSafeTensors.Entry("b", "BF16", [n], 2 * n, 4 * n) + "}";
        using var file = SafeTensorsFile.Open(RawSafeTensors.Write(dir, "known.safetensors", header, data), allowNonFinite: true);
        using var h = file.ReadTensor("h");
        using var b = file.ReadTensor("b");
        for (int i = 0; i < known.Length; i++)
        {
            Assert.Equal(BitConverter.SingleToInt32Bits(f16Expected[i]), BitConverter.SingleToInt32Bits(h.ReadOnlySpan[i]));
            Assert.Equal(BitConverter.SingleToInt32Bits(bf16Expected[i]), BitConverter.SingleToInt32Bits(b.ReadOnlySpan[i]));
        }
        Assert.True(float.IsNaN(h.ReadOnlySpan[n - 1]));
        Assert.True(float.IsNaN(b.ReadOnlySpan[n - 1]));
    }

    [Theory]
    [InlineData(SafeTensorsReadMode.PositionalRead)]
    [InlineData(SafeTensorsReadMode.MemoryMap)]
    public void F32AndF64AndIntegersFromHandMadeBytes(SafeTensorsReadMode mode)
    {
        float[] f32 = [1.5f, -0f, float.Epsilon, float.MaxValue, float.NaN, float.NegativeInfinity];
        double[] f64 = [0.1, -3.25, 1e300, 1e-50];
        long[] i64 = [long.MinValue, -1, 0, 981, long.MaxValue, 7];
        int[] i32 = [int.MinValue, -5, 0, int.MaxValue];
        byte[] data = [.. MemoryMarshal.AsBytes(f32.AsSpan()), .. MemoryMarshal.AsBytes(f64.AsSpan()),
                       .. MemoryMarshal.AsBytes(i64.AsSpan()), .. MemoryMarshal.AsBytes(i32.AsSpan())];
        var header = "{\"__metadata__\":{\"format\":\"pt\",\"n\":3}," +
                     RawSafeTensors.Entry("f32", "F32", [2, 3], 0, 24) + "," +
                     RawSafeTensors.Entry("f64", "F64", [4], 24, 56) + "," +
                     RawSafeTensors.Entry("i64", "I64", [3, 2], 56, 104) + "," +
                     RawSafeTensors.Entry("i32", "I32", [4], 104, 120) + "}";
        using var dir = new TempDir();
        using var file = SafeTensorsFile.Open(RawSafeTensors.Write(dir, "mixed.safetensors", header, data), mode, allowNonFinite: true);

        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal("3", file.Metadata["n"]); // non-string metadata is kept as its JSON text
        using (var t = file.ReadTensor("f32"))
        {
            Assert.Equal([2, 3], t.Shape);
            Assert.Equal(f32.Select(BitConverter.SingleToInt32Bits), t.ToArray().Select(BitConverter.SingleToInt32Bits));
        }
        using (var t = file.ReadTensor("f64")) Assert.Equal(f64.Select(d => (float)d), t.ToArray());
        var ints = file.ReadInt64("i64");
        Assert.Equal([3, 2], ints.Shape);
        Assert.Equal(i64, ints.Data);
        Assert.Equal(981, ints[1, 1]);
        Assert.Equal(i32.Select(i => (long)i), file.ReadInt64("i32").Data);

        Assert.Contains("only F32, F16, BF16 and F64", Assert.Throws<DejaException>(() => file.ReadTensor("i64")).Message);
        Assert.Contains("only integer and bool", Assert.Throws<DejaException>(() => file.ReadInt64("f32")).Message);
        var missing = Assert.Throws<DejaException>(() => file.ReadTensor("nope"));
        Assert.Contains("'nope'", missing.Message);
        Assert.Contains("mixed.safetensors", missing.Message);
        Assert.Equal(new[] { "f32", "f64", "i64", "i32" }, file.Names); // data order
    }

    [Fact]
    public void LargeTensorReadsTheSameWithOneOrTwoThreads()
    {
        using var dir = new TempDir();
        var path = dir.File("large.safetensors");
        using var source = Tensor.Wrap(Enumerable.Range(0, 3_000_003).Select(i => MathF.Sin(i * 0.001f) * 100).ToArray(), 3, 1_000_001);
        SafeTensorsWriter.Write(path, [("x", source)], dtype: SafeTensorsDType.BF16);
        using var file = SafeTensorsFile.Open(path);
        using var mapped = SafeTensorsFile.Open(path, SafeTensorsReadMode.MemoryMap);
        int saved = Threading.Threads;
        try
        {
            Threading.Threads = 1;
            using var one = file.ReadTensor("x");
            Threading.Threads = 2;
            using var two = file.ReadTensor("x");
            using var three = mapped.ReadTensor("x");
            var all = file.ReadTensors();
            Assert.True(one.ReadOnlySpan.SequenceEqual(two.ReadOnlySpan));
            Assert.True(one.ReadOnlySpan.SequenceEqual(three.ReadOnlySpan));
            Assert.True(one.ReadOnlySpan.SequenceEqual(all["x"].ReadOnlySpan));
            all["x"].Dispose();
            var expected = new ushort[source.Length];
            ElementConversion.SingleToBFloat16(source.ReadOnlySpan, expected);
            for (int i = 0; i < expected.Length; i += 997)
                Assert.Equal((uint)expected[i] << 16, BitConverter.SingleToUInt32Bits(one.ReadOnlySpan[i]));
        }
        finally { Threading.Threads = saved; }
    }
}
