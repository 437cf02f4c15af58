using Deja.Diffusion.Text.Ftfy;

namespace Deja.Diffusion.Tests.Text;

/// <summary>ftfy 6.1.1's fixes other than mojibake repair (see MojibakeRepairTests); expected values are what ftfy.fix_text returns.</summary>
public class TextFixerTests
{
    [Theory]
    [InlineData("Tom &amp; Jerry &lt;3", "Tom & Jerry <3")]
    [InlineData("&amp;amp; twice", "& twice")]                       // fixed until nothing changes
    [InlineData("P&EACUTE;REZ &ntilde; &NTILDE; &nTILDE;", "PÉREZ ñ Ñ &nTILDE;")]
    [InlineData("this&not that &not; &notit;", "this&not that ¬ &notit;")]
    [InlineData("&#39;a&#x27; &#X41; &#128; &#59; &#65a; &#x;", "'a' A € &#59; &#65a; &#x;")]
    [InlineData("&#0;|&#1;|&#xD800;|&#1114112;", "\uFFFD||\uFFFD|\uFFFD")]
    [InlineData("a &amp; <b>", "a &amp; <b>")]                       // a literal '<' means it may be HTML
    [InlineData("a &amp; b\n<i> &amp; c\nd &amp; e", "a & b\n<i> &amp; c\nd &amp; e")] // ...for the rest of the text
    [InlineData("\u201Ccurly\u201D \u2018single\u2019 \u02BCx", "\"curly\" 'single' 'x")]
    [InlineData("\uFB01ne \uFB03 \u0132 \u01C5 \u0149", "fine ffi IJ Dž 'n")]
    [InlineData("\uFF26\uFF35\uFF2C\uFF2C\u3000\uFF57\uFF49\uFF44\uFF54\uFF48\uFF01", "FULL width!")]
    [InlineData("\uFF76\uFF9E", "ガ")]                                // halfwidth kana + voiced mark, composed by NFC
    [InlineData("\u0080 \u0093q\u0094 \u0081", "€ \"q\" \u0081")]     // C1 controls read as Windows-1252
    [InlineData("a\r\nb\rc\u2028d\u2029e", "a\nb\nc\nd\ne")]
    [InlineData("\u001B[31mred\u001B[0m\u001B[1;4m!", "red!")]
    [InlineData("a\u0000b\u0007c\u000Bd\u007Fe\uFEFFf\u206Ag\uFFFCh\tj\u000Ck", "abcdefgh\tj\u000Ck")]
    [InlineData("e\u0301 \u212B", "é Å")]
    [InlineData("plain ascii prompt", "plain ascii prompt")]
    public void FixesLikeFtfy(string input, string expected) => Assert.Equal(expected, TextFixer.FixText(input));

    [Fact]
    public void LoneSurrogatesBecomeReplacementCharacters()
    {
        Assert.Equal("a\uFFFDb\uFFFD", TextFixer.FixText("a\uD800b\uDC00"));
        Assert.Equal("\U0001F600", TextFixer.FixText("\U0001F600"));
    }
}
