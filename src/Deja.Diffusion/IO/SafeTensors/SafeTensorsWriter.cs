using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;
using Deja.Tensors;

namespace Deja.Diffusion.IO;

/// <summary>
/// Writes safetensors files in the standard layout: 8-byte little-endian header length, a JSON header
/// space-padded to a multiple of 8 bytes, then the tensors' data in sorted-name order, contiguous.
/// The file is written to a temporary file next to the target, flushed to disk and renamed over the
/// target, so a crash leaves either the old file or the complete new one, never a torn one.
/// </summary>
public static class SafeTensorsWriter
{
    /// <summary>Elements converted per write call: bounds the scratch memory of F16/BF16 output.</summary>
    const int ChunkElements = 1 << 18;

    /// <summary>The metadata key of the Deja version that wrote the file.</summary>
    public const string VersionKey = "deja_version";

    /// <summary>Fills <paramref name="destination"/> with the elements that start at <paramref name="start"/>.</summary>
    internal delegate void FloatSource(long start, Span<float> destination);

    internal sealed record Item(string Name, int[] Shape, SafeTensorsDType DType, Tensor? Floats, FloatSource? Generator, Int64Tensor? Integers)
    {
        public long ElementCount => Shape.Aggregate(1L, (n, d) => n * d);
        public long ByteLength => ElementCount * DType.SizeOf();
    }

    /// <summary>
    /// Writes float tensors stored as <paramref name="dtype"/> (F32, F16 or BF16; narrowing rounds to
    /// nearest-even), optional integer tensors stored as I64, and optional string metadata.
    /// </summary>
    public static void Write(string path, IEnumerable<(string Name, Tensor Tensor)> tensors,
                             IReadOnlyDictionary<string, string>? metadata = null,
                             SafeTensorsDType dtype = SafeTensorsDType.F32,
                             IEnumerable<(string Name, Int64Tensor Tensor)>? integers = null)
    {
        if (dtype is not (SafeTensorsDType.F32 or SafeTensorsDType.F16 or SafeTensorsDType.BF16))
            throw new ArgumentException($"SafeTensorsWriter: float tensors can be stored as F32, F16 or BF16, not {dtype}", nameof(dtype));
        var items = new List<Item>();
        foreach (var (name, t) in tensors)
        {
            ObjectDisposedException.ThrowIf(t.IsDisposed, t);
            items.Add(new Item(name, (int[])t.Shape.Clone(), dtype, t, null, null));
        }
        foreach (var (name, t) in integers ?? [])
            items.Add(new Item(name, (int[])t.Shape.Clone(), SafeTensorsDType.I64, null, null, t));
        Write(path, items, metadata);
    }

    /// <summary>Writes float data produced on the fly (benchmarks: no need to hold a whole model in memory).</summary>
    internal static void WriteGenerated(string path, IEnumerable<(string Name, int[] Shape)> layout, FloatSource source,
                                        SafeTensorsDType dtype, IReadOnlyDictionary<string, string>? metadata = null) =>
        Write(path, layout.Select(l => new Item(l.Name, l.Shape, dtype, null, source, null)).ToList(), metadata);

    internal static void Write(string path, List<Item> items, IReadOnlyDictionary<string, string>? metadata)
    {
        // every file Deja writes records which Deja wrote it (issue 15 §4), unless the caller set it
        if (metadata is null || !metadata.ContainsKey(VersionKey))
            metadata = new Dictionary<string, string>(metadata ?? new Dictionary<string, string>()) { [VersionKey] = DejaVersion.Text };
        var full = Path.GetFullPath(path);
        Check(full, items);
        items.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        var header = Header(items, metadata);

        var temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                Span<byte> prefix = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
                stream.Write(prefix);
                stream.Write(header);
                var scratch = ArrayPool<byte>.Shared.Rent(ChunkElements * 4);
                var floats = ArrayPool<float>.Shared.Rent(ChunkElements);
                try
                {
                    foreach (var item in items) WriteData(stream, item, scratch, floats);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(scratch);
                    ArrayPool<float>.Shared.Return(floats);
                }
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    static void Check(string path, List<Item> items)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var item in items)
        {
            if (string.IsNullOrEmpty(item.Name))
                throw new ArgumentException($"SafeTensorsWriter '{path}': a tensor has an empty name");
            if (item.Name == SafeTensorsHeader.MetadataKey)
                throw new ArgumentException($"SafeTensorsWriter '{path}': '{SafeTensorsHeader.MetadataKey}' is reserved and cannot name a tensor");
            if (!seen.Add(item.Name))
                throw new ArgumentException($"SafeTensorsWriter '{path}': tensor name '{item.Name}' is used twice");
        }
    }

    static byte[] Header(List<Item> items, IReadOnlyDictionary<string, string>? metadata)
    {
        var json = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(json, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject(SafeTensorsHeader.MetadataKey);
                foreach (var (k, v) in metadata.OrderBy(m => m.Key, StringComparer.Ordinal)) w.WriteString(k, v);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var item in items)
            {
                w.WriteStartObject(item.Name);
                w.WriteString("dtype", item.DType.ToString());
                w.WriteStartArray("shape");
                foreach (var d in item.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset += item.ByteLength);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        // Padding keeps the data area 8-byte aligned in the file (and so in a memory map).
        int padded = (json.WrittenCount + 7) / 8 * 8;
        var header = new byte[padded];
        json.WrittenSpan.CopyTo(header);
        header.AsSpan(json.WrittenCount).Fill((byte)' ');
        return header;
    }

    static void WriteData(Stream stream, Item item, byte[] scratch, float[] floats)
    {
        if (item.Integers is not null)
        {
            stream.Write(MemoryMarshal.AsBytes(item.Integers.Data.AsSpan()));
            return;
        }
        long n = item.ElementCount;
        for (long start = 0; start < n; start += ChunkElements)
        {
            int len = (int)Math.Min(ChunkElements, n - start);
            ReadOnlySpan<float> chunk;
            if (item.Floats is not null) chunk = item.Floats.ReadOnlySpan.Slice((int)start, len);
            else
            {
                item.Generator!(start, floats.AsSpan(0, len));
                chunk = floats.AsSpan(0, len);
            }
            switch (item.DType)
            {
                case SafeTensorsDType.F32:
                    stream.Write(MemoryMarshal.AsBytes(chunk));
                    break;
                case SafeTensorsDType.F16:
                    ElementConversion.SingleToHalf(chunk, MemoryMarshal.Cast<byte, Half>(scratch.AsSpan(0, len * 2)));
                    stream.Write(scratch, 0, len * 2);
                    break;
                case SafeTensorsDType.BF16:
                    ElementConversion.SingleToBFloat16(chunk, MemoryMarshal.Cast<byte, ushort>(scratch.AsSpan(0, len * 2)));
                    stream.Write(scratch, 0, len * 2);
                    break;
                default:
                    throw new InvalidOperationException($"SafeTensorsWriter: cannot store floats as {item.DType}");
            }
        }
    }
}
