using System.Text;

namespace Deja.Diffusion.Text.Unicode;

/// <summary>Code-point access to UTF-16 strings (Python indexes strings by code point).</summary>
internal static class CodePoints
{
    /// <summary>The code point at <paramref name="index"/>; a lone surrogate is returned as itself.</summary>
    public static int At(string text, int index)
    {
        char c = text[index];
        if (char.IsHighSurrogate(c) && index + 1 < text.Length && char.IsLowSurrogate(text[index + 1]))
            return char.ConvertToUtf32(c, text[index + 1]);
        return c;
    }

    /// <summary>Number of UTF-16 units of <paramref name="codePoint"/>.</summary>
    public static int Width(int codePoint) => codePoint > 0xFFFF ? 2 : 1;

    public static void Append(StringBuilder sb, int codePoint)
    {
        if (codePoint <= 0xFFFF) sb.Append((char)codePoint);
        else
        {
            codePoint -= 0x10000;
            sb.Append((char)(0xD800 + (codePoint >> 10))).Append((char)(0xDC00 + (codePoint & 0x3FF)));
        }
    }
}
