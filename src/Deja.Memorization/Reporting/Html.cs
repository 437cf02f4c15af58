using System.Globalization;
using System.Net;

namespace Deja.Memorization.Reporting;

/// <summary>
/// The few HTML primitives the report is built from. Everything that came from an input file (prompts,
/// tokens, file and column names) goes through <see cref="Text"/>: prompts are untrusted text, and a
/// prompt such as <c>&lt;script&gt;…</c> must show as those characters, never run.
/// </summary>
public static class Html
{
    /// <summary>Text escaped for element content and quoted attribute values (&lt; &gt; &amp; " ' all encoded).</summary>
    public static string Text(string? s) => WebUtility.HtmlEncode(s ?? "");

    /// <summary>A number as the tables print it: fixed decimals, invariant culture.</summary>
    public static string Number(double v, string format = "0.000") =>
        double.IsFinite(v) ? v.ToString(format, CultureInfo.InvariantCulture) : (double.IsNaN(v) ? "NaN" : v > 0 ? "∞" : "−∞");

    /// <summary>
    /// An SVG document (as RocSvg, SignificanceSvg and ScoreHistogramSvg render it) made ready for inline
    /// use: the XML declaration goes (it is not HTML), the rest is well-formed XML whose text is already
    /// escaped by the XML writer, which the HTML parser reads as foreign content.
    /// </summary>
    public static string InlineSvg(string svgDocument)
    {
        var s = svgDocument.TrimStart();
        if (s.StartsWith("<?xml", StringComparison.Ordinal)) s = s[(s.IndexOf("?>", StringComparison.Ordinal) + 2)..].TrimStart();
        return s.TrimEnd();
    }

    /// <summary>A PNG as an &lt;img&gt; with a data: URI, so the report needs no file beside it; the bytes are checked to be a PNG.</summary>
    public static string PngImage(byte[] png, string alt, int displayWidth, string? title = null)
    {
        if (png.Length < 8 || png[0] != 0x89 || png[1] != (byte)'P' || png[2] != (byte)'N' || png[3] != (byte)'G')
            throw new ArgumentException($"image \"{alt}\": not a PNG");
        return $"<img src=\"data:image/png;base64,{Convert.ToBase64String(png)}\" alt=\"{Text(alt)}\" width=\"{displayWidth}\"" +
               (title is null ? "" : $" title=\"{Text(title)}\"") + ">";
    }
}
