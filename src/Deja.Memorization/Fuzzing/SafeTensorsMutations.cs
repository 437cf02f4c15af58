using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;

namespace Deja.Memorization.Fuzzing;

/// <summary>
/// Mutations that know the safetensors layout (8-byte length, JSON header, data area): header fields are
/// edited and the length prefix rewritten to match, so inputs reach the header's semantic checks, and
/// edits that keep the header consistent (same-size dtype swaps, reshapes, damaged payload values) reach
/// the tensor data.
/// </summary>
public static class SafeTensorsMutations
{
    static readonly string[] DTypes = ["F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "U16", "U32", "U64", "BOOL", "F8_E4M3", "F8_E5M2"];
    static readonly string[][] SameSize = [["F32", "I32", "U32"], ["F16", "BF16", "I16", "U16"], ["F64", "I64", "U64"], ["U8", "I8", "BOOL"]];
    static readonly long[] HugeDims = [1_000_000_000_000, 2147483648, 2147483647, 4294967296, 1_000_000, 65536, 0];

    public static IReadOnlyList<FuzzMutation> All { get; } =
    [
        EditHeaderValue, EditHeaderValue, DuplicateHeaderKey, HugeShape, Reshape, SwapSameSizeDType, ChangeDType, MoveOffsets,
        RemoveField, RenameTensor, DamagePayload, DamagePayload, InsertIntoData, LengthPrefix,
    ];

    sealed record Parts(JsonObject Header, byte[] Data);

    static Parts? Split(byte[] input)
    {
        if (input.Length < 8) return null;
        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(input);
        if (length > (ulong)(input.Length - 8)) return null;
        if (JsonMutations.Parse(input[8..(8 + (int)length)]) is not JsonObject header) return null;
        return new Parts(header, input[(8 + (int)length)..]);
    }

    static byte[] Join(byte[] header, byte[] data)
    {
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        return bytes;
    }

    static byte[]? Join(Parts p, FuzzRandom random)
    {
        var header = JsonMutations.Write(p.Header, random);
        if (header is null) return null;
        // Writers pad the header with spaces to a multiple of 8; do so most of the time.
        if (random.Chance(0.7)) header = [.. header, .. Enumerable.Repeat((byte)' ', (8 - header.Length % 8) % 8)];
        return Join(header, p.Data);
    }

    /// <summary>A tensor entry of the header (not __metadata__), or null.</summary>
    static (string Name, JsonObject Entry)? PickTensor(Parts p, FuzzRandom random)
    {
        var tensors = p.Header.Where(kv => kv.Key != "__metadata__" && kv.Value is JsonObject).ToList();
        if (tensors.Count == 0) return null;
        var pick = random.Pick(tensors);
        return (pick.Key, (JsonObject)pick.Value!);
    }

    public static byte[]? EditHeaderValue(byte[] input, FuzzRandom random)
    {
        if (Split(input) is not { } p) return null;
        var edited = JsonMutations.EditValue(JsonMutations.Write(p.Header, random)!, random);
        return edited is null ? null : Join(edited, p.Data);
    }

    public static byte[]? DuplicateHeaderKey(byte[] input, FuzzRandom random)
    {
        if (Split(input) is not { } p) return null;
        var edited = JsonMutations.DuplicateMember(JsonMutations.Write(p.Header, random)!, random);
        return edited is null ? null : Join(edited, p.Data);
    }

    /// <summary>A dimension of 10^12, 2^31, 2^32…, with data_offsets made consistent half of the time so the bounds check is what refuses it.</summary>
    public static byte[]? HugeShape(byte[] input, FuzzRandom random)
    {
        if (Split(input) is not { } p || PickTensor(p, random) is not ({ } _, { } entry) || entry["shape"] is not JsonArray shape) return null;
        long dim = random.Pick(HugeDims);
        if (shape.Count == 0) shape.Add(dim); else shape[random.Next(shape.Count)] = dim;
        if (random.Chance(0.5) && entry["data_offsets"] is JsonArray { Count: 2 } offsets && offsets[0] is JsonValue b && b.TryGetValue(out long begin))
        {
            double count = shape.Aggregate(1.0, (n, d) => d is JsonValue v && v.TryGetValue(out long x) ? n * x : n);
            double end = begin + count * SizeOf(entry["dtype"]?.ToString() ?? "F32");
            offsets[1] = end < long.MaxValue ? (long)end : long.MaxValue;
        }
        return Join(p, random);
    }

    /// <summary>The same element count in another shape: a valid header that reads the data differently.</summary>
    public static byte[]? Reshape(byte[] input, FuzzRandom random)
    {
        if (Split(input) is not { } p || PickTensor(p, random) is not ({ } _, { } entry) || entry["shape"] is not JsonArray shape) return null;
        long n = shape.Aggregate(1L, (acc, d) => d is JsonValue v && v.TryGetValue(out long x) ? acc * x : acc);
        var dims = new List<long>();
        long rest = n;
        while (rest > 1 && dims.Count < 4)
        {
            var divisors = Enumerable.Range(2, (int)Math.Min(rest - 1, 64)).Where(k => rest % k == 0).ToList();
            if (divisors.Count == 0 || random.Chance(0.3)) break;
            long d = random.Pick(divisors);
            dims.Add(d);
            rest /= d;
        }
        dims.Add(rest);
        if (random.Chance(0.2)) dims.Insert(random.Next(dims.Count + 1), 1);
        entry["shape"] = new JsonArray([.. dims.Select(d => (JsonNode?)JsonValue.Create(d))]);
        return Join(p, random);
    }

    /// <summary>F32↔I32, F16↔BF16…: the header stays valid and the same bytes become other values (NaNs, integers read as floats).</summary>
    public static byte[]? SwapSameSizeDType(byte[] input, FuzzRandom random)
    {
        if (Split(input) is not { } p || PickTensor(p, random) is not ({ } _, { } entry)) return null;
        var group = SameSize.FirstOrDefault(g => g.Contains(entry["dtype"]?.ToString()));
        if (group is null) return null;
        entry["dtype"] = random.Pick(group);
        return Join(p, random);
    }

    public static byte[]? ChangeDType(byte[] input, FuzzRandom random)
    {
        if (Split(input) is not { } p || PickTensor(p, random) is not ({ } _, { } entry)) return null;
        entry["dtype"] = random.Chance(0.8) ? random.Pick(DTypes) : random.Pick((string[])["f32", "F128", "", "float32", "Q4_0"]);
        return Join(p, random);
    }

    /// <summary>Offsets moved to leave gaps, overlap a neighbour, end before they begin, or point far past the file.</summary>
    public static byte[]? MoveOffsets(byte[] input, FuzzRandom random)
    {
        if (Split(input) is not { } p || PickTensor(p, random) is not ({ } _, { } entry) || entry["data_offsets"] is not JsonArray { Count: 2 } offsets) return null;
        if (offsets[0] is not JsonValue b || !b.TryGetValue(out long begin) || offsets[1] is not JsonValue e || !e.TryGetValue(out long end)) return null;
        long k = random.Pick((long[])[1, 2, 4, 8, 64, -4, -1]);
        (long nb, long ne) = random.Next(6) switch
        {
            0 => (begin + k, end + k),
            1 => (begin, end + k),
            2 => (end, begin),
            3 => (0, end - begin),
            4 => (begin + 1_000_000_000_000, end + 1_000_000_000_000),
            _ => (begin - k, end),
        };
        offsets[0] = nb;
        offsets[1] = ne;
        return Join(p, random);
    }

    public static byte[]? RemoveField(byte[] input, FuzzRandom random)
    {
        if (Split(input) is not { } p || PickTensor(p, random) is not ({ } _, { } entry)) return null;
        entry.Remove(random.Pick((string[])["dtype", "shape", "data_offsets"]));
        return Join(p, random);
    }

    public static byte[]? RenameTensor(byte[] input, FuzzRandom random)
    {
        if (Split(input) is not { } p || PickTensor(p, random) is not ({ } name, { } entry)) return null;
        p.Header.Remove(name);
        p.Header[random.Pick((string[])["x_T", "", "__metadata__", name + ".extra", name.ToUpperInvariant(), "\u00e9"])] = entry;
        return Join(p, random);
    }

    /// <summary>Special values written over aligned elements of the data area: NaN, ±inf (F32, F16, BF16 patterns), denormals, huge values.</summary>
    public static byte[]? DamagePayload(byte[] input, FuzzRandom random)
    {
        if (Split(input) is not { } p || p.Data.Length < 4) return null;
        var output = (byte[])input.Clone();
        int dataStart = input.Length - p.Data.Length, writes = random.Between(1, 3);
        for (int i = 0; i < writes; i++)
        {
            int at = dataStart + random.Next(p.Data.Length / 2) * 2;
            uint value = random.Pick((uint[])[0x7FC00000, 0x7F800000, 0xFF800000, 0x00000001, 0x7F7FFFFF, 0x7E007E00, 0x7C007C00, 0x7F807F80, 0xFFFFFFFF]);
            var bytes = BitConverter.GetBytes(value);
            for (int j = 0; j < 4 && at + j < output.Length; j++) output[at + j] = bytes[j];
        }
        return output;
    }

    /// <summary>1–150 bytes inserted into the data area (the reference implementation refuses this; issue 12 §5).</summary>
    public static byte[]? InsertIntoData(byte[] input, FuzzRandom random)
    {
        if (Split(input) is not { } p) return null;
        int dataStart = input.Length - p.Data.Length, at = dataStart + random.Next(p.Data.Length + 1);
        return [.. input.AsSpan(0, at), .. random.Bytes(random.Between(1, 150)), .. input.AsSpan(at)];
    }

    public static byte[]? LengthPrefix(byte[] input, FuzzRandom random)
    {
        if (input.Length < 8) return null;
        var output = (byte[])input.Clone();
        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(input);
        ulong value = random.Pick((ulong[])[0, 1, 2, length - 1, length + 1, length + 8, (ulong)input.Length, 100_000_001, 1_000_000_000_000, ulong.MaxValue]);
        BinaryPrimitives.WriteUInt64LittleEndian(output, value);
        return output;
    }

    static int SizeOf(string dtype) => dtype switch
    {
        "F64" or "I64" or "U64" => 8,
        "F32" or "I32" or "U32" => 4,
        "F16" or "BF16" or "I16" or "U16" => 2,
        _ => 1,
    };

    /// <summary>Builds a safetensors file from a header text and data (for seed inputs with any dtype).</summary>
    public static byte[] Build(string header, byte[] data)
    {
        var h = Encoding.UTF8.GetBytes(header).ToList();
        while (h.Count % 8 != 0) h.Add((byte)' ');
        return Join([.. h], data);
    }
}
