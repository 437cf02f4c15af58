using Deja.Diffusion.IO;
using Deja.Tensors;
using static Deja.Diffusion.Tests.IO.RawSafeTensors;

namespace Deja.Diffusion.Tests.IO;

/// <summary>Each kind of damage gives an InvalidDataException that names the file, the tensor and the problem.</summary>
public class SafeTensorsCorruptionTests
{
    static InvalidDataException OpenFails(string path)
    {
        var e = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(path).Dispose());
        Assert.Contains(Path.GetFileName(path), e.Message);
        return e;
    }

    static InvalidDataException OpenFails(string header, int dataBytes, ulong? declaredLength = null)
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
        var e = Assert.Throws<InvalidDataException>(() => file.ReadTensor("b"));
        Assert.Contains("tensor 'b'", e.Message);
        Assert.Contains("truncated after it was opened", e.Message);
    }

    [Fact]
    public void MissingFile()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<FileNotFoundException>(() => SafeTensorsFile.Open(dir.File("none.safetensors")));
        Assert.Contains("none.safetensors", e.Message);
    }

    [Fact]
    public void EmptyTensorsMayShareAnOffsetAndGapsAreAllowed()
    {
        using var dir = new TempDir();
        var header = "{" + Entry("e1", "F32", [0], 4, 4) + "," + Entry("e2", "F16", [0, 3], 4, 4) + "," +
                     Entry("a", "F32", [1], 0, 4) + "," + Entry("b", "F32", [1], 8, 12) + "}";
        using var file = SafeTensorsFile.Open(Write(dir, "ok.safetensors", header, new byte[16]));
        Assert.Equal(4, file.Count);
        using var e2 = file.ReadTensor("e2");
        Assert.Equal([0, 3], e2.Shape);
    }
}
