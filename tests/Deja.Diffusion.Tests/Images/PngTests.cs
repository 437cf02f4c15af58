using Deja.Diffusion.Images;
using Deja.Tensors;

namespace Deja.Diffusion.Tests.Images;

public class PngTests
{
    static string Fixture(string name) => Path.Combine(TestData.Root, "images", name);

    [Theory]
    [InlineData("rgb8.png", "ref.rgb", 3)]
    [InlineData("rgb16.png", "ref.rgb", 3)]
    [InlineData("rgb8_interlaced.png", "ref.rgb", 3)]
    [InlineData("rgba8.png", "rgba8.rgba", 4)]
    [InlineData("gray8.png", "gray8.gray", 1)]
    [InlineData("palette4.png", "palette4.rgb", 3)]
    public void DecodesWhatImageMagickWrote(string png, string raw, int channels)
    {
        var img = Png.Read(Fixture(png));
        Assert.Equal(13, img.Width);
        Assert.Equal(7, img.Height);
        Assert.Equal(channels, img.Channels);
        Assert.Equal(File.ReadAllBytes(Fixture(raw)), img.Pixels);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void RoundTripIsLossless(int channels)
    {
        var rng = new Random(channels);
        var img = new Image(37, 21, channels);
        for (int i = 0; i < img.Pixels.Length; i++) img.Pixels[i] = (byte)(i % 7 == 0 ? rng.Next(256) : (i * 3) & 255);
        var path = Path.Combine(Path.GetTempPath(), $"deja-png-{Guid.NewGuid():N}.png");
        try
        {
            Png.Write(path, img);
            var back = Png.Read(path);
            Assert.Equal(img.Pixels, back.Pixels);
            Assert.Equal(channels, back.Channels);
            Assert.Empty(Directory.GetFiles(Path.GetTempPath(), "." + Path.GetFileName(path) + ".tmp"));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void CorruptFilesGiveClearMessages()
    {
        var good = File.ReadAllBytes(Fixture("rgb8.png"));
        Assert.Contains("signature", Assert.Throws<DejaException>(() => Png.Decode(new byte[] { 1, 2, 3 })).Message);
        Assert.Contains("truncated", Assert.Throws<DejaException>(() => Png.Decode(good.AsSpan(0, good.Length - 20))).Message);
        var flipped = (byte[])good.Clone();
        flipped[40] ^= 0x55; // inside the IDAT payload
        Assert.Contains("CRC", Assert.Throws<DejaException>(() => Png.Decode(flipped)).Message);
    }

    [Fact]
    public void TensorConversionRoundsLikeDiffusers()
    {
        var t = Deja.Tensors.Tensor.FromArray([0f, 0.5f, 1.2f, -0.1f, 0.25f, 1f], 3, 1, 2);
        var img = Image.FromTensor01(t);
        // (x·255).round(): 0.5·255 = 127.5 → 128 (numpy rounds half to even: 128), 0.25·255 = 63.75 → 64
        Assert.Equal(new byte[] { 0, 255, 64, 128, 0, 255 }, img.Pixels);
        var back = img.ToTensor01();
        Assert.Equal(64 / 255f, back[2, 0, 0]);
        Assert.Equal(1f, back[1, 0, 0]);
    }
    /// <summary>A PNG with the IHDR fields given, one IDAT of <paramref name="idat"/> and IEND, with correct CRCs.</summary>
    static byte[] Build(int width, int height, byte depth, byte color, byte[] idat)
    {
        using var image = new MemoryStream();
        using (var z = new System.IO.Compression.ZLibStream(image, System.IO.Compression.CompressionLevel.Optimal, leaveOpen: true)) z.Write(idat);
        var ihdr = new byte[13];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = depth; ihdr[9] = color;
        using var s = new MemoryStream();
        s.Write([137, 80, 78, 71, 13, 10, 26, 10]);
        foreach (var (type, data) in new[] { ("IHDR", ihdr), ("IDAT", image.ToArray()), ("IEND", Array.Empty<byte>()) })
        {
            var head = new byte[8];
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(head, data.Length);
            System.Text.Encoding.ASCII.GetBytes(type).CopyTo(head, 4);
            s.Write(head);
            s.Write(data);
            var crc = new byte[4];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(crc, Crc(head.AsSpan(4), data));
            s.Write(crc);
        }
        return s.ToArray();
    }

    static uint Crc(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        uint c = 0xFFFFFFFFu;
        foreach (var x in (byte[])[.. a, .. b])
        {
            c ^= x;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        }
        return c ^ 0xFFFFFFFFu;
    }

    /// <summary>
    /// Issue 12 §4: a 100-byte file whose header claims 8192×8192 16-bit RGBA (512 MB of rows) is refused
    /// when its data runs out, before the image or the row buffer is allocated.
    /// </summary>
    [Fact]
    public void HeaderClaimingAHugeImageIsRefusedBeforeAllocating()
    {
        var png = Build(8192, 8192, 16, 6, new byte[100]);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<DejaException>(() => Png.Decode(png));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 4 << 20, $"allocated {GC.GetAllocatedBytesForCurrentThread() - before} bytes");
        Assert.Contains("truncated PNG image data", e.Message);
    }

    [Fact]
    public void ImagesAboveTheSizeLimitAreRefused()
    {
        Assert.Contains("unsupported PNG size 100000×100000", Assert.Throws<DejaException>(() => Png.Decode(Build(100_000, 100_000, 8, 0, [0]))).Message);
        Assert.Contains("unsupported PNG size 268435456×1", Assert.Throws<DejaException>(() => Png.Decode(Build(1 << 28, 1, 16, 6, [0]))).Message);
    }

    [Fact]
    public void ExtraImageDataIsIgnoredAndAValidBuildDecodes()
    {
        var img = Png.Decode(Build(2, 1, 8, 0, [0, 10, 20, 99, 99, 99]));
        Assert.Equal([10, 20], img.Pixels);
    }

    /// <summary>
    /// Fuzzing (png, seed 2026, input 17162 and three others): zlib data that makes the inflater fail with
    /// ZLibException (an IOException) escaped the decoder instead of being reported as damage.
    /// </summary>
    [Fact]
    public void ImageDataThatBreaksTheInflaterIsReportedAsCorrupt()
    {
        var png = Convert.FromBase64String("iVBORw0KGgoAAAANSUhEUgAAAAcAAAAFCAAAAACs8akEAAAAIklEQVR4P4dkVBsDJlZm5i5mZmYmAQhgYmYFM7qZW/+DGABAfgPP98nv/QAAAABJRU5ErkJggg==");
        var e = Assert.Throws<DejaException>(() => Png.Decode(png));
        Assert.Contains("corrupt PNG image data", e.Message);
    }
}
