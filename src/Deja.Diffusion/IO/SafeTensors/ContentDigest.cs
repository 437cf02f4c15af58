using System.Buffers.Binary;
using System.Text;

namespace Deja.Diffusion.IO;

/// <summary>
/// The content hash of a safetensors file, built from pieces that parallel readers hash as they go.
/// Definition: each tensor's stored bytes are cut into blocks of <c>blockElements</c> (2^16) elements,
/// the reader's unit of hashing, and each block is hashed with XXH3-64; the result is XXH3-64 over, for every
/// tensor in data order, its UTF-8 name, a 0 byte, its dtype name, a 0 byte, its rank and dimensions
/// (little-endian int64) and its block hashes (little-endian). Names, dtypes and shapes are part of it,
/// header formatting, tensor offsets and <c>__metadata__</c> are not.
/// </summary>
internal sealed class ContentDigest
{
    readonly IReadOnlyList<SafeTensorsEntry> entries;
    readonly ulong[][] hashes;
    readonly bool[][] known;

    public ContentDigest(IReadOnlyList<SafeTensorsEntry> entries, int blockElements)
    {
        this.entries = entries;
        hashes = new ulong[entries.Count][];
        known = new bool[entries.Count][];
        for (int i = 0; i < entries.Count; i++)
        {
            // ElementCount is bounded by the file size (the header checks offsets against it).
            long blocks = (entries[i].ElementCount + blockElements - 1) / blockElements;
            hashes[i] = new ulong[blocks];
            known[i] = new bool[blocks];
        }
    }

    /// <summary>Hashes one block's stored bytes; called by the reader threads, each for its own blocks.</summary>
    public void Record(int entry, int block, ReadOnlySpan<byte> stored)
    {
        hashes[entry][block] = XxHash3.Hash(stored);
        known[entry][block] = true;
    }

    /// <summary>The file's hash; blocks no reader has hashed yet are hashed from <paramref name="storedBytes"/>.</summary>
    public ulong Finish(Func<int, int, ReadOnlySpan<byte>> storedBytes)
    {
        using var stream = new MemoryStream();
        var word = new byte[8];
        void Write(long value)
        {
            BinaryPrimitives.WriteInt64LittleEndian(word, value);
            stream.Write(word);
        }
        for (int i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            stream.Write(Encoding.UTF8.GetBytes(e.Name));
            stream.WriteByte(0);
            stream.Write(Encoding.ASCII.GetBytes(e.DType.ToString()));
            stream.WriteByte(0);
            Write(e.Shape.Length);
            foreach (var d in e.Shape) Write(d);
            for (int c = 0; c < hashes[i].Length; c++)
            {
                if (!known[i][c]) Record(i, c, storedBytes(i, c));
                Write((long)hashes[i][c]);
            }
        }
        return XxHash3.Hash(stream.GetBuffer().AsSpan(0, (int)stream.Length));
    }
}
