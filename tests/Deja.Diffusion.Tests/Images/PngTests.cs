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
}
