using System.Text;

namespace Deja.Diffusion.Text;

/// <summary>
/// GPT-2/CLIP's reversible map from UTF-8 bytes to printable characters: printable Latin-1 bytes stand
/// for themselves, the other 68 bytes (controls, space, U+00AD) take U+0100 upwards in byte order.
/// BPE symbols and vocabulary entries are strings over this alphabet.
/// </summary>
internal static class ByteLevelAlphabet
{
    static readonly char[] byteToChar = Build();
    static readonly Dictionary<char, byte> charToByte = byteToChar.Select((c, b) => (c, b)).ToDictionary(p => p.c, p => (byte)p.b);

    static char[] Build()
    {
        var map = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
            map[b] = IsPrintable(b) ? (char)b : (char)next++;
        return map;
    }

    static bool IsPrintable(int b) => b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;

    /// <summary>The character that stands for byte <paramref name="b"/>.</summary>
    public static char ForByte(byte b) => byteToChar[b];

    /// <summary>The UTF-8 bytes of <paramref name="text"/>, one alphabet character per byte.</summary>
    public static string Encode(string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        return string.Create(bytes.Length, bytes, static (span, b) =>
        {
            for (int i = 0; i < b.Length; i++) span[i] = byteToChar[b[i]];
        });
    }

    /// <summary>
    /// Turns alphabet characters back into bytes and decodes them as UTF-8 (invalid sequences become U+FFFD,
    /// like transformers' errors="replace"); characters outside the alphabet are kept as they are.
    /// </summary>
    public static string Decode(string symbols)
    {
        var sb = new StringBuilder(symbols.Length);
        var pending = new List<byte>();
        foreach (char c in symbols)
        {
            if (charToByte.TryGetValue(c, out byte b)) { pending.Add(b); continue; }
            Flush();
            sb.Append(c);
        }
        Flush();
        return sb.ToString();

        void Flush()
        {
            if (pending.Count == 0) return;
            sb.Append(Encoding.UTF8.GetString(pending.ToArray()));
            pending.Clear();
        }
    }
}
