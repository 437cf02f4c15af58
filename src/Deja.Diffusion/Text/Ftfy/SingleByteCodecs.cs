namespace Deja.Diffusion.Text.Ftfy;

/// <summary>
/// The single-byte encodings ftfy 6.1.1 tries when it re-encodes mojibake (chardata.CHARMAP_ENCODINGS),
/// built from the tables of <c>SingleByteCodecTables.g.cs</c> (Python's codecs; .NET has none of them
/// in-box but Latin-1).
/// </summary>
internal static partial class SingleByteCodecs
{
    // Lazy because the tables are a field of the generated part, and C# does not order the static
    // initializers of different parts of a partial class.
    static readonly Lazy<SingleByteCodec[]> all = new(() => [.. Tables.Select(t => new SingleByteCodec(t.Name, t.Sloppy, t.HighHalf))]);
    static readonly Lazy<SingleByteCodec> latin1 = new(() => Named("latin-1"));
    static readonly Lazy<SingleByteCodec> sloppyWindows1252 = new(() => Named("sloppy-windows-1252"));

    /// <summary>The encodings in the order ftfy tries them.</summary>
    public static IReadOnlyList<SingleByteCodec> All => all.Value;

    public static SingleByteCodec Latin1 => latin1.Value;
    public static SingleByteCodec SloppyWindows1252 => sloppyWindows1252.Value;

    static SingleByteCodec Named(string name) => all.Value.Single(c => c.Name == name);
}

/// <summary>One single-byte encoding: bytes 0x00–0x7F are ASCII (except 0x1A in a sloppy codec), 0x80–0xFF a table.</summary>
internal sealed class SingleByteCodec
{
    readonly string decodingTable;
    readonly Dictionary<char, byte> encodingTable = [];

    public SingleByteCodec(string name, bool sloppy, string highHalf)
    {
        Name = name;
        IsSloppy = sloppy;
        var table = new char[256];
        for (int b = 0; b < 128; b++) table[b] = (char)b;
        // ftfy's sloppy codecs let byte 0x1A stand for U+FFFD, so that text in which a character was
        // already lost can still be encoded (and U+001A itself no longer can).
        if (sloppy) table[0x1A] = '\uFFFD';
        highHalf.CopyTo(0, table, 128, 128);
        decodingTable = new string(table);
        for (int b = 0; b < 256; b++) encodingTable.Add(table[b], (byte)b);
    }

    /// <summary>The name ftfy uses for the encoding ("sloppy-windows-1252", "macroman", ...).</summary>
    public string Name { get; }

    /// <summary>One of ftfy's sloppy codecs: undefined bytes read as Latin-1, 0x1A as U+FFFD.</summary>
    public bool IsSloppy { get; }

    /// <summary>Whether every character of <paramref name="text"/> has a byte here (ftfy's <c>possible_encoding</c>).</summary>
    public bool CanEncode(string text)
    {
        foreach (char c in text)
            if (!encodingTable.ContainsKey(c)) return false;
        return true;
    }

    /// <summary>The bytes of <paramref name="text"/>, which <see cref="CanEncode"/> must accept.</summary>
    public byte[] Encode(string text)
    {
        var bytes = new byte[text.Length];
        for (int i = 0; i < text.Length; i++) bytes[i] = encodingTable[text[i]];
        return bytes;
    }

    public string Decode(ReadOnlySpan<byte> bytes)
    {
        var chars = new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) chars[i] = decodingTable[bytes[i]];
        return new string(chars);
    }
}
