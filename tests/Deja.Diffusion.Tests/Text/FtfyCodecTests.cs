using Deja.Diffusion.Text.Ftfy;

namespace Deja.Diffusion.Tests.Text;

/// <summary>The codecs under ftfy 6.1.1's encoding repair: its sloppy single-byte codecs and "utf-8-variants".</summary>
public class FtfyCodecTests
{
    [Fact]
    public void CodecsAreTriedInFtfysOrder() => Assert.Equal(
        ["latin-1", "sloppy-windows-1252", "sloppy-windows-1251", "sloppy-windows-1250", "sloppy-windows-1253",
         "sloppy-windows-1254", "iso-8859-2", "macroman", "cp437"],
        SingleByteCodecs.All.Select(c => c.Name));

    [Fact]
    public void SloppyCodecsFillHolesWithLatin1AndUse1AForReplacementCharacter()
    {
        var sloppy = SingleByteCodecs.SloppyWindows1252;
        Assert.Equal("€\u0081‚", sloppy.Decode([0x80, 0x81, 0x82]));     // ftfy's sloppy.py docstring
        Assert.Equal(new byte[] { 0x1A }, sloppy.Encode("\uFFFD"));
        Assert.False(sloppy.CanEncode("\u001A"));
        Assert.True(SingleByteCodecs.Latin1.CanEncode("\u001A\u0000\u00FF"));
        Assert.False(SingleByteCodecs.Latin1.CanEncode("\uFFFD"));
        Assert.All(SingleByteCodecs.All, codec => Assert.Equal("ASCII text!", codec.Decode(codec.Encode("ASCII text!"))));
    }

    [Fact]
    public void Utf8VariantsReadsCesu8AndJavaNull()
    {
        // ftfy's test_encodings.py
        byte[] bytes = [0xED, 0xA6, 0x9D, 0xED, 0xBD, 0xB7, .. " is an unassigned character, and "u8, 0xC0, 0x80, .. " is null"u8];
        Assert.Equal("\U00077777 is an unassigned character, and \0 is null", Utf8Decoding.Variants(bytes));
        Assert.Null(Utf8Decoding.Strict(bytes));
        Assert.Equal("😍", Utf8Decoding.Variants([0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x8D])); // bad_codecs docstring
    }

    [Theory]
    [InlineData(new byte[] { 0xC0, 0xAF })]             // overlong
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 })]       // a lone surrogate
    [InlineData(new byte[] { 0xF4, 0x90, 0x80, 0x80 })] // past U+10FFFF
    [InlineData(new byte[] { 0x61, 0xE2, 0x82 })]       // truncated
    [InlineData(new byte[] { 0xC0 })]
    public void BothDecodersRejectInvalidUtf8(byte[] bytes)
    {
        Assert.Null(Utf8Decoding.Strict(bytes));
        Assert.Null(Utf8Decoding.Variants(bytes));
    }

    [Fact]
    public void StrictUtf8KeepsTheByteOrderMark() => Assert.Equal("\uFEFFa", Utf8Decoding.Strict([0xEF, 0xBB, 0xBF, 0x61]));

    [Fact]
    public void FinalLineBreakAfterC0IsReadAsJavasNull()
    {
        // Python's "$" in ftfy's variant pattern also matches before a final "\n": "C0 \n" is a null, and
        // the real ftfy 6.1.1 returns "café " for this line (its line break swallowed).
        Assert.Equal("a\0", Utf8Decoding.Variants([0x61, 0xC0, 0x0A]));
        Assert.Equal("café ", TextFixer.FixText("cafÃ© À\n"));
    }
}
