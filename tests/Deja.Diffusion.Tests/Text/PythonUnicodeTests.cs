using System.Security.Cryptography;
using System.Text;
using Deja.Diffusion.Text.Unicode;

namespace Deja.Diffusion.Tests.Text;

/// <summary>NFC and str.lower() against CPython 3.11 (Unicode 14).</summary>
public class PythonUnicodeTests
{
    [Fact]
    public void EveryCodePointNormalizesAndLowersLikePython()
    {
        // SHA-256 of the lines "cp nfc-code-points lower-code-points" for every code point that NFC or
        // lower() changes, computed with CPython 3.11.2 (unicodedata 14.0.0); 2543 lines.
        const string Expected = "65de58e18f7b08e3c2d735015533ad9879dff2db58761c46d1609e6c3267d35f";
        var sb = new StringBuilder();
        int changed = 0;
        for (int cp = 0; cp < 0x110000; cp++)
        {
            if (cp is >= 0xD800 and <= 0xDFFF) continue;
            string s = char.ConvertFromUtf32(cp), nfc = Nfc.Normalize(s), lower = PythonText.Lower(s);
            if (nfc == s && lower == s) continue;
            sb.Append(cp).Append(' ').Append(CodePointList(nfc)).Append(' ').Append(CodePointList(lower)).Append('\n');
            changed++;
        }
        Assert.Equal(2543, changed);
        Assert.Equal(Expected, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString()))));
    }

    [Theory]
    [InlineData("e\u0301", "é")]
    [InlineData("a\u0323\u0302", "\u1EAD")]          // reordered marks compose
    [InlineData("a\u0302\u0323", "\u1EAD")]
    [InlineData("\u1100\u1161\u11A8", "각")]         // Hangul LV + T
    [InlineData("\u0344", "\u0308\u0301")]           // non-starter decomposition, never recomposed
    [InlineData("\u0301e", "\u0301e")]               // a leading mark stays
    [InlineData("\U0001D15E", "\U0001D157\U0001D165")] // composition exclusion (musical symbol)
    public void Normalizes(string input, string expected) => Assert.Equal(expected, Nfc.Normalize(input));

    [Theory]
    [InlineData("İstanbul", "i\u0307stanbul")]
    [InlineData("ΟΔΟΣ", "οδος")]
    [InlineData("ΟΔΟΣ.", "οδος.")]
    [InlineData("ΣΑΣ", "σας")]
    [InlineData("Σ", "σ")]
    [InlineData("AΣ'B", "aσ'b")]                      // ' is case-ignorable: a cased letter follows
    [InlineData("ǅ ẞ K", "ǆ ß k")]
    public void LowersLikePython(string input, string expected) => Assert.Equal(expected, PythonText.Lower(input));

    [Fact]
    public void StripsPythonWhitespace()
    {
        Assert.Equal("a b", PythonText.Strip("\u001C\t\u3000a b\u00A0\u2029\u0085 "));
        Assert.Equal("\u200Ba", PythonText.Strip("\u200Ba")); // zero-width space is not whitespace
    }

    static string CodePointList(string s) => string.Join(",", s.EnumerateRunes().Select(r => r.Value));
}
