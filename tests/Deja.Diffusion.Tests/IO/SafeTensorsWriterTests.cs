using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Deja.Diffusion.IO;
using Deja.Tensors;

namespace Deja.Diffusion.Tests.IO;

public class SafeTensorsWriterTests
{
    static float[] Values(int n, int seed)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1) * MathF.Pow(2, r.Next(-30, 30))).ToArray();
    }

    /// <summary>Edge cases every conversion must survive: zeros, subnormals, extremes, infinities, NaN.</summary>
    static readonly float[] Edges =
    [
        0f, -0f, float.Epsilon, -float.Epsilon, 1e-40f, float.MaxValue, -float.MaxValue, float.PositiveInfinity,
        float.NegativeInfinity, float.NaN, 65504f, 65520f, 1e-8f, 6e-8f, 1.00390625f, 1.01171875f, 1f / 3, -2.5f,
    ];

    [Fact]
    public void F32RoundTripIsBitExactWithMetadataAndIntegers()
    {
        using var dir = new TempDir();
        var path = dir.File("model.safetensors");
        using var a = Tensor.FromArray([.. Values(100, 1), .. Edges], 2, 59);
        using var scalar = Tensor.Scalar(3.5f);
        using var empty = Tensor.Empty(0, 4);
        var ids = new Int64Tensor([49406, 320, 49407, -1], [2, 2]);
        var meta = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode ✓" };
        SafeTensorsWriter.Write(path, [("b.weight", a), ("a.scalar", scalar), ("c.empty", empty)], meta, integers: [("ids", ids)]);

        using var file = SafeTensorsFile.Open(path, allowNonFinite: true); // the round trips include NaN and ±inf
        // the writer adds the Deja version that wrote the file
        Assert.Equal(new Dictionary<string, string>(meta) { [SafeTensorsWriter.VersionKey] = DejaVersion.Text }, file.Metadata);
        Assert.Equal(new[] { "a.scalar", "b.weight", "c.empty", "ids" }, file.Names);
        using (var back = file.ReadTensor("b.weight"))
        {
            Assert.Equal(a.Shape, back.Shape);
            Assert.Equal(a.ToArray().Select(BitConverter.SingleToInt32Bits), back.ToArray().Select(BitConverter.SingleToInt32Bits));
        }
        using (var back = file.ReadTensor("a.scalar")) { Assert.Empty(back.Shape); Assert.Equal(3.5f, back.Item()); }
        using (var back = file.ReadTensor("c.empty")) Assert.Equal([0, 4], back.Shape);
        var idsBack = file.ReadInt64("ids");
        Assert.Equal(ids.Data, idsBack.Data);
        Assert.Equal(ids.Shape, idsBack.Shape);
    }

    [Fact]
    public void F16RoundTripRoundsLikeSystemHalf()
    {
        using var dir = new TempDir();
        var path = dir.File("half.safetensors");
        var values = Values(1000, 2).Concat(Edges).ToArray();
        using var t = Tensor.FromArray(values, values.Length);
        SafeTensorsWriter.Write(path, [("x", t)], dtype: SafeTensorsDType.F16);

        using var file = SafeTensorsFile.Open(path, allowNonFinite: true); // the round trips include NaN and ±inf
        Assert.Equal(SafeTensorsDType.F16, file.Entry("x").DType);
        Assert.Equal(2L * values.Length, file.Entry("x").ByteLength);
        using var back = file.ReadTensor("x");
        for (int i = 0; i < values.Length; i++)
        {
            float expected = (float)(Half)values[i]; // System.Half rounds to nearest-even
            if (float.IsNaN(expected)) Assert.True(float.IsNaN(back.ReadOnlySpan[i]));
            else Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(back.ReadOnlySpan[i]));
        }
    }

    /// <summary>Nearest bfloat16 by comparing distances in double, ties to the even neighbour (an independent reference).</summary>
    static float ReferenceBFloat16(float x)
    {
        if (float.IsNaN(x) || float.IsInfinity(x)) return x;
        uint bits = BitConverter.SingleToUInt32Bits(x);
        uint down = bits & 0xFFFF_0000, up = down + 0x1_0000;
        double lo = BitConverter.UInt32BitsToSingle(down);
        // Past the largest finite bfloat16 the next step up is 2^128, which rounds to infinity.
        double hi = (up & 0x7FFF_FFFF) == 0x7F80_0000 ? Math.Sign(x) * Math.Pow(2, 128) : BitConverter.UInt32BitsToSingle(up);
        double dLo = Math.Abs(x - lo), dHi = Math.Abs(hi - x);
        uint pick = dLo < dHi ? down : dHi < dLo ? up : ((down >> 16) & 1) == 0 ? down : up;
        return BitConverter.UInt32BitsToSingle(pick);
    }

    [Fact]
    public void BF16RoundTripRoundsToNearestEven()
    {
        Assert.Equal(1f, ReferenceBFloat16(1.00390625f));           // tie → even (1.0)
        Assert.Equal(1.015625f, ReferenceBFloat16(1.01171875f));    // tie → even (1 + 2^-6)
        Assert.Equal(float.PositiveInfinity, ReferenceBFloat16(float.MaxValue));

        using var dir = new TempDir();
        var path = dir.File("bf16.safetensors");
        var r = new Random(3);
        // Random bit patterns cover every exponent, including subnormals, and many exact ties.
        var values = Enumerable.Range(0, 5000).Select(i => BitConverter.Int32BitsToSingle(i % 5 == 0 ? r.Next() & ~0x7FFF | 0x8000 : r.Next() * (i % 2 == 0 ? 1 : -1)))
                               .Concat(Edges).ToArray();
        using var t = Tensor.FromArray(values, values.Length);
        SafeTensorsWriter.Write(path, [("x", t)], dtype: SafeTensorsDType.BF16);

        using var file = SafeTensorsFile.Open(path, allowNonFinite: true); // the round trips include NaN and ±inf
        using var back = file.ReadTensor("x");
        for (int i = 0; i < values.Length; i++)
        {
            float expected = ReferenceBFloat16(values[i]);
            if (float.IsNaN(expected)) Assert.True(float.IsNaN(back.ReadOnlySpan[i]));
            else Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(back.ReadOnlySpan[i]),
                             $"0x{BitConverter.SingleToUInt32Bits(values[i]):X8}: expected {expected:R}, got {back.ReadOnlySpan[i]:R}");
        }
    }

    [Fact]
    public void LayoutIsTheStandardOne()
    {
        using var dir = new TempDir();
        var path = dir.File("layout.safetensors");
        using var x = Tensor.Ones(3);
        using var y = Tensor.Ones(2, 2);
        using var z = Tensor.Ones(1);
        SafeTensorsWriter.Write(path, [("zeta", z), ("alpha", x), ("Mid", y)], new Dictionary<string, string> { ["format"] = "pt" });

        var bytes = File.ReadAllBytes(path);
        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0, n % 8);
        var header = Encoding.UTF8.GetString(bytes, 8, (int)n);
        Assert.EndsWith("}", header.TrimEnd(' ')); // padded with spaces only
        using var doc = JsonDocument.Parse(header);
        var names = doc.RootElement.EnumerateObject().Select(p => p.Name).ToList();
        Assert.Equal(new[] { "__metadata__", "Mid", "alpha", "zeta" }, names); // metadata first, then ordinal order
        long expectedBegin = 0;
        foreach (var name in names.Skip(1))
        {
            var offsets = doc.RootElement.GetProperty(name).GetProperty("data_offsets").EnumerateArray().Select(o => o.GetInt64()).ToArray();
            Assert.Equal(expectedBegin, offsets[0]);
            expectedBegin = offsets[1];
        }
        Assert.Equal(8 + n + expectedBegin, bytes.Length); // contiguous, nothing after the last tensor
    }

    [Fact]
    public void AtomicWriteLeavesNoTemporaryFileAndReplacesTheOld()
    {
        using var dir = new TempDir();
        var path = dir.File("w.safetensors");
        using var one = Tensor.Full(1f, 4);
        using var two = Tensor.Full(2f, 8);
        SafeTensorsWriter.Write(path, [("t", one)]);
        SafeTensorsWriter.Write(path, [("t", two)]);
        Assert.Equal(new[] { "w.safetensors" }, Directory.GetFiles(dir.Path).Select(Path.GetFileName));
        using var file = SafeTensorsFile.Open(path, allowNonFinite: true); // the round trips include NaN and ±inf
        using var back = file.ReadTensor("t");
        Assert.Equal(Enumerable.Repeat(2f, 8), back.ToArray());
    }

    [Fact]
    public void FailedWriteKeepsTheOldFileAndRemovesTheTemporary()
    {
        using var dir = new TempDir();
        var path = dir.File("keep.safetensors");
        using var old = Tensor.Full(7f, 5);
        SafeTensorsWriter.Write(path, [("old", old)]);
        var before = File.ReadAllBytes(path);

        int calls = 0;
        void Failing(long start, Span<float> destination)
        {
            if (++calls == 3) throw new IOException("disk full (simulated)");
            destination.Fill(1);
        }
        var layout = Enumerable.Range(0, 5).Select(i => ($"t{i}", new[] { 1000 }));
        Assert.Throws<IOException>(() => SafeTensorsWriter.WriteGenerated(path, layout, Failing, SafeTensorsDType.F32));

        Assert.Equal(new[] { "keep.safetensors" }, Directory.GetFiles(dir.Path).Select(Path.GetFileName));
        Assert.Equal(before, File.ReadAllBytes(path));
    }

    [Fact]
    public void BadInputsAreRefusedBeforeAnythingIsWritten()
    {
        using var dir = new TempDir();
        var path = dir.File("bad.safetensors");
        using var t = Tensor.Ones(2);
        Assert.Contains("used twice", Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Write(path, [("a", t), ("a", t)])).Message);
        Assert.Contains("empty name", Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Write(path, [("", t)])).Message);
        Assert.Contains("reserved", Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Write(path, [("__metadata__", t)])).Message);
        Assert.Contains("F32, F16 or BF16", Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Write(path, [("a", t)], dtype: SafeTensorsDType.I64)).Message);
        var disposed = Tensor.Ones(2);
        disposed.Dispose();
        Assert.Throws<ObjectDisposedException>(() => SafeTensorsWriter.Write(path, [("a", disposed)]));
        Assert.Empty(Directory.GetFiles(dir.Path));
    }
}
