using Deja.Diffusion.IO;
using Deja.Tensors;
using static Deja.Diffusion.Tests.IO.RawSafeTensors;

namespace Deja.Diffusion.Tests.IO;

/// <summary>Each kind of damage gives a DejaException that names the file, the tensor and the problem.</summary>
public class SafeTensorsCorruptionTests
{
    static DejaException OpenFails(string path)
    {
        var e = Assert.Throws<DejaException>(() => SafeTensorsFile.Open(path).Dispose());
        Assert.Contains(Path.GetFileName(path), e.Message);
        return e;
    }

    static DejaException OpenFails(string header, int dataBytes, ulong? declaredLength = null)
    {
        using var dir = new TempDir();
        return OpenFails(Write(dir, "bad.safetensors", header, new byte[dataBytes], declaredLength));
    }

    public static TheoryData<string, string, int, string[]> BadHeaders() => new()
    {
        { "invalid JSON", "{\"a\": {\"dtype\": \"F32\", ", 0, ["not valid JSON"] },
        { "not an object", "[1, 2, 3]", 0, ["must be a JSON object"] },
        { "unknown dtype", "{" + Entry("w", "F128", [2], 0, 8) + "}", 8, ["tensor 'w'", "unknown dtype 'F128'", "F32"] },
        { "dtype x shape != bytes", "{" + Entry("w", "F32", [3], 0, 8) + "}", 8, ["tensor 'w'", "span 8 bytes", "F32 [3] needs 12 bytes"] },
        { "begin > end", "{" + Entry("w", "U8", [0], 8, 4) + "}", 8, ["tensor 'w'", "[8,4] end before they begin"] },
        { "negative dimension", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,8]}}", 8, ["tensor 'w'", "non-negative integers"] },
        { "fractional dimension", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8, ["tensor 'w'", "non-negative integers"] },
        { "missing dtype", "{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, ["tensor 'w'", "'dtype' is missing"] },
        { "missing shape", "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, ["tensor 'w'", "'shape' is missing"] },
        { "three offsets", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4,8]}}", 8, ["tensor 'w'", "[begin, end]"] },
        { "negative offset", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 8, ["tensor 'w'", "non-negative integers"] },
        { "entry not an object", "{\"w\": 5}", 0, ["tensor 'w'", "must be an object"] },
        { "duplicate name", "{" + Entry("w", "F32", [1], 0, 4) + "," + Entry("w", "F32", [1], 4, 8) + "}", 8, ["tensor 'w'", "appears twice"] },
        { "metadata not an object", "{\"__metadata__\": [1]}", 0, ["__metadata__", "must be a JSON object"] },
        {
            "offsets outside the data", "{" + Entry("a", "F32", [2], 0, 8) + "," + Entry("b", "F32", [2], 16, 24) + "}", 16,
            ["tensor 'b'", "[16,24] lie outside the data area, which has 16 bytes"]
        },
        {
            "overlapping tensors", "{" + Entry("a", "F32", [2], 0, 8) + "," + Entry("b", "F32", [2], 4, 12) + "}", 12,
            ["tensor 'b'", "overlap tensor 'a' [0,8]"]
        },
    };

    [Theory]
    [MemberData(nameof(BadHeaders))]
    public void BadHeaderNamesTheProblem(string why, string header, int dataBytes, string[] expected)
    {
        var e = OpenFails(header, dataBytes);
        foreach (var fragment in expected) Assert.True(e.Message.Contains(fragment), $"{why}: '{fragment}' not in: {e.Message}");
    }

    [Fact]
    public void InvalidUtf8Header()
    {
        using var dir = new TempDir();
        var bytes = Build("{\"ab\":1}", []);
        bytes[8 + 2] = 0xFF; // 'a' becomes a lone 0xFF byte, which is never UTF-8
        var path = dir.File("utf8.safetensors");
        File.WriteAllBytes(path, bytes);
        Assert.Contains("not valid UTF-8", OpenFails(path).Message);
    }

    [Fact]
    public void HeaderLengthLargerThanTheFile()
    {
        var e = OpenFails("{}", 0, declaredLength: 4096);
        Assert.Contains("header length in the first 8 bytes is 4096 bytes, but only 8 bytes follow", e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void ImplausibleHeaderLength()
    {
        Assert.Contains("not a plausible size", OpenFails("{}", 0, declaredLength: 1UL << 40).Message);
        Assert.Contains("not a plausible size", OpenFails("{}", 0, declaredLength: 0).Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    public void FileShorterThanTheLengthPrefix(int length)
    {
        using var dir = new TempDir();
        var path = dir.File("tiny.safetensors");
        File.WriteAllBytes(path, new byte[length]);
        Assert.Contains($"the file is truncated: it has {length} bytes", OpenFails(path).Message);
    }

    [Fact]
    public void TruncatedDataNamesTheFirstIncompleteTensor()
    {
        using var dir = new TempDir();
        var path = dir.File("cut.safetensors");
        using var a = Tensor.Ones(100);
        using var b = Tensor.Ones(100);
        using var c = Tensor.Ones(100);
        SafeTensorsWriter.Write(path, [("a", a), ("b", b), ("c", c)]);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^500]); // cuts into b (c is the last 400 bytes)
        var e = OpenFails(path);
        Assert.Contains("the file is truncated: its header describes 1200 bytes of tensor data but only 700 are present", e.Message);
        Assert.Contains("tensor 'b'", e.Message);
    }

    [Fact]
    public void FileTruncatedAfterOpeningFailsCleanly()
    {
        using var dir = new TempDir();
        var path = dir.File("shrinks.safetensors");
        using var a = Tensor.Ones(1000);
        using var b = Tensor.Ones(1000);
        SafeTensorsWriter.Write(path, [("a", a), ("b", b)]);
        using var file = SafeTensorsFile.Open(path); // positional reads: no SIGBUS from a shrunken map
        using (var s = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite)) s.SetLength(s.Length - 2000);
        var e = Assert.Throws<DejaException>(() => file.ReadTensor("b"));
        Assert.Contains("tensor 'b'", e.Message);
        Assert.Contains("truncated after it was opened", e.Message);
    }

    [Fact]
    public void MissingFile()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<DejaException>(() => SafeTensorsFile.Open(dir.File("none.safetensors")));
        Assert.Contains("none.safetensors", e.Message);
    }

    [Fact]
    public void EmptyTensorsMayShareAnOffset()
    {
        using var dir = new TempDir();
        var header = "{" + Entry("e1", "F32", [0], 4, 4) + "," + Entry("e2", "F16", [0, 3], 4, 4) + "," +
                     Entry("a", "F32", [1], 0, 4) + "," + Entry("b", "F32", [1], 4, 8) + "}";
        using var file = SafeTensorsFile.Open(Write(dir, "ok.safetensors", header, new byte[8]));
        Assert.Equal(4, file.Count);
        using var e2 = file.ReadTensor("e2");
        Assert.Equal([0, 3], e2.Shape);
    }

    /// <summary>Issue 12 §4: a header claiming 10^12 elements is refused from the header alone, before anything is allocated for it.</summary>
    [Theory]
    [InlineData(1_000_000_000_000L, 4_000_000_000_000L)]   // offsets consistent with the claim: they lie outside the file
    [InlineData(1_000_000_000_000L, 16L)]                  // offsets of the real data: they do not span the claim
    public void HeaderClaimingATrillionElementsIsRefusedBeforeAllocating(long elements, long end)
    {
        using var dir = new TempDir();
        var header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[" + elements + "],\"data_offsets\":[0," + end + "]}}";
        var path = Write(dir, "huge.safetensors", header, new byte[16]);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = OpenFails(path);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
        Assert.Contains("tensor 'w'", e.Message);
    }

    /// <summary>Issue 12 §5: one NaN weight used to load and score as NaN rows with exit code 0; it is reported at load, naming the tensor.</summary>
    [Theory]
    [InlineData("F32", SafeTensorsReadMode.PositionalRead)]
    [InlineData("F16", SafeTensorsReadMode.PositionalRead)]
    [InlineData("BF16", SafeTensorsReadMode.MemoryMap)]
    public void NonFiniteWeightIsReportedAtLoad(string dtype, SafeTensorsReadMode mode)
    {
        using var dir = new TempDir();
        using var w = Tensor.FromArray(Enumerable.Range(0, 1000).Select(i => i * 0.01f).ToArray(), 1000);
        var path = dir.File("w.safetensors");
        SafeTensorsWriter.Write(path, [("layer.weight", w)], dtype: Enum.Parse<SafeTensorsDType>(dtype));
        var bytes = File.ReadAllBytes(path);
        long dataStart;
        using (var f = SafeTensorsFile.Open(path)) dataStart = f.DataStart;
        int size = dtype == "F32" ? 4 : 2;
        byte[] nan = dtype switch { "F32" => BitConverter.GetBytes(float.NaN), "F16" => [0x00, 0x7E], _ => [0xC0, 0x7F] };
        nan.CopyTo(bytes, dataStart + 777 * size);
        File.WriteAllBytes(path, bytes);

        using var file = SafeTensorsFile.Open(path, mode);
        using var target = Tensor.Zeros(1000);
        var e = Assert.Throws<DejaException>(() => file.ReadInto(new Dictionary<string, Tensor> { ["layer.weight"] = target }));
        Assert.Contains("tensor 'layer.weight' holds a non-finite value (NaN at element 777)", e.Message);
        Assert.Contains("w.safetensors", e.Message);
        using var allowed = SafeTensorsFile.Open(path, mode, allowNonFinite: true);
        using var read = allowed.ReadTensor("layer.weight");
        Assert.True(float.IsNaN(read.ReadOnlySpan[777]));
    }

    /// <summary>Issue 12 §5: like the reference implementation, every byte of the data area belongs to exactly one tensor.</summary>
    [Theory]
    [InlineData("gap between tensors", 16, "the 4 bytes between it and tensor 'a' (which ends at 4) belong to no tensor")]
    [InlineData("bytes after the last tensor", 20, "bytes after the last tensor belong to no tensor")]
    [InlineData("bytes before the first tensor", 16, "starts with 4 bytes that belong to no tensor")]
    public void BytesBetweenOrAfterTensorsAreRefused(string why, int dataBytes, string expected)
    {
        var header = why switch
        {
            "gap between tensors" => "{" + Entry("a", "F32", [1], 0, 4) + "," + Entry("b", "F32", [3], 8, 20) + "}",
            "bytes after the last tensor" => "{" + Entry("a", "F32", [1], 0, 4) + "," + Entry("b", "F32", [3], 4, 16) + "}",
            _ => "{" + Entry("a", "F32", [3], 4, 16) + "}",
        };
        if (why == "gap between tensors") dataBytes = 20;
        var e = OpenFails(header, dataBytes);
        Assert.True(e.Message.Contains(expected), $"{why}: {e.Message}");
    }

    /// <summary>
    /// Issue 12 §5: bytes inserted into or overwritten in the data area of a weights file (28 of 200 such
    /// mutations used to load and score). Now an insertion is always refused (the data no longer tiles),
    /// a NaN or infinity is refused at load, and any other overwrite loads but changes the content hash,
    /// so the model id changes too.
    /// </summary>
    [Fact]
    public void DataAreaDamageIsRefusedOrChangesTheContentHash()
    {
        using var dir = new TempDir();
        var path = dir.File("w.safetensors");
        using (var a = Tensor.FromArray(Enumerable.Range(0, 500).Select(i => MathF.Sin(i)).ToArray(), 500))
        using (var b = Tensor.FromArray(Enumerable.Range(0, 300).Select(i => MathF.Cos(i)).ToArray(), 300))
            SafeTensorsWriter.Write(path, [("a", a), ("b", b)]);
        var original = File.ReadAllBytes(path);
        ulong originalHash;
        long dataStart;
        using (var f = SafeTensorsFile.Open(path)) { originalHash = f.ContentHash(); dataStart = f.DataStart; }

        var random = new Random(12);
        int refused = 0, changed = 0;
        for (int trial = 0; trial < 200; trial++)
        {
            int length = random.Next(1, 151), at = (int)dataStart + random.Next(original.Length - (int)dataStart);
            var junk = new byte[length];
            random.NextBytes(junk);
            byte[] damaged;
            if (trial % 2 == 0) damaged = [.. original[..at], .. junk, .. original[at..]];
            else
            {
                damaged = (byte[])original.Clone();
                junk.AsSpan(0, Math.Min(length, original.Length - at)).CopyTo(damaged.AsSpan(at));
            }
            File.WriteAllBytes(path, damaged);
            try
            {
                using var f = SafeTensorsFile.Open(path);
                foreach (var t in f.ReadTensors().Values) t.Dispose();
                Assert.True(trial % 2 == 1, $"trial {trial}: {length} bytes inserted at {at} were accepted");
                if (!damaged.AsSpan().SequenceEqual(original)) Assert.NotEqual(originalHash, f.ContentHash());
                changed++;
            }
            catch (DejaException) { refused++; }
        }
        Assert.True(refused >= 100, $"{refused} refused, {changed} loaded with a new hash");
    }
}
