using System.Buffers.Binary;
using System.Text;

namespace Deja.Diffusion.IO;

/// <summary>
/// The content hash of a safetensors file, built from pieces that parallel readers hash as they go.
/// Definition: each tensor's stored bytes are cut into chunks of <c>chunkElements</c> elements (the
/// reader's work unit) and each chunk is hashed with XXH3-64; the result is XXH3-64 over, for every
/// tensor in data order, its UTF-8 name, a 0 byte, its dtype name, a 0 byte, its rank and dimensions
/// (little-endian int64) and its chunk hashes (little-endian). Names, dtypes and shapes are part of it,
/// header formatting, tensor offsets and <c>__metadata__</c> are not.
/// </summary>
internal sealed class ContentDigest
{
    readonly IReadOnlyList<SafeTensorsEntry> entries;
    readonly ulong[][] hashes;
    readonly bool[][] known;

    public ContentDigest(IReadOnlyList<SafeTensorsEntry> entries, int chunkElements)
    {
        this.entries = entries;
        hashes = new ulong[entries.Count][];
        known = new bool[entries.Count][];
        for (int i = 0; i < entries.Count; i++)
        {
            // ElementCount is bounded by the file size (the header checks offsets against it).
            long chunks = (entries[i].ElementCount + chunkElements - 1) / chunkElements;
            hashes[i] = new ulong[chunks];
            known[i] = new bool[chunks];
        }
    }

    /// <summary>Hashes one chunk's stored bytes; called by the reader threads, each for its own chunk.</summary>
    public void Record(int entry, int chunk, ReadOnlySpan<byte> stored)
    {
        hashes[entry][chunk] = XxHash3.Hash(stored);
        known[entry][chunk] = true;
    }

    /// <summary>The file's hash; chunks no reader has hashed yet are hashed from <paramref name="storedBytes"/>.</summary>
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
