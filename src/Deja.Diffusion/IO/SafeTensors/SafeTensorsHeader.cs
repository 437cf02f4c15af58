using System.Text.Json;
using System.Text.Unicode;
using Deja.Tensors;

namespace Deja.Diffusion.IO;

/// <summary>
/// Parses and validates a safetensors header. Every check that can fail names the file and, where
/// one is to blame, the tensor, because a bad checkpoint is usually found by someone who only has the
/// error message to go on.
/// </summary>
internal static class SafeTensorsHeader
{
    /// <summary>The reference implementation refuses headers above 100 MB; real ones are well under 1 MB.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    public const string MetadataKey = "__metadata__";

    public sealed record Parsed(List<SafeTensorsEntry> Entries, Dictionary<string, string> Metadata);

    /// <summary>Checks the 8-byte length prefix against the file size; returns the header length.</summary>
    public static long CheckPrefix(string path, long fileLength, ulong declared)
    {
        if (fileLength < 8)
            throw Fail(path, $"the file is truncated: it has {fileLength} bytes, but a safetensors file starts with an 8-byte header length");
        if (declared < 2 || declared > MaxHeaderBytes)
            throw Fail(path, $"the header length in the first 8 bytes is {declared}, not a plausible size (2 to {MaxHeaderBytes} bytes); this is not a safetensors file or its start is damaged");
        if ((long)declared > fileLength - 8)
            throw Fail(path, $"the header length in the first 8 bytes is {declared} bytes, but only {fileLength - 8} bytes follow the prefix: the file is truncated or not a safetensors file");
        return (long)declared;
    }

    public static Parsed Parse(string path, ReadOnlySpan<byte> header, long dataLength)
    {
        if (!Utf8.IsValid(header))
            throw Fail(path, "the header is not valid UTF-8 text");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(header.ToArray()); }
        catch (JsonException e) { throw Fail(path, $"the header is not valid JSON ({e.Message})"); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw Fail(path, $"the header must be a JSON object, found {root.ValueKind}");

            var entries = new List<SafeTensorsEntry>();
            var metadata = new Dictionary<string, string>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var prop in root.EnumerateObject())
            {
                if (!seen.Add(prop.Name))
                    throw Fail(path, prop.Name, "the name appears twice in the header");
                if (prop.Name == MetadataKey) ReadMetadata(path, prop.Value, metadata);
                else entries.Add(ReadEntry(path, prop.Name, prop.Value));
            }
            CheckLayout(path, entries, dataLength);
            entries.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : string.CompareOrdinal(a.Name, b.Name));
            return new Parsed(entries, metadata);
        }
    }

    static void ReadMetadata(string path, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw Fail(path, $"'{MetadataKey}' must be a JSON object of strings, found {value.ValueKind}");
        // The format says string values; other writers sometimes store numbers. Keep those as their JSON text.
        foreach (var m in value.EnumerateObject())
            metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : m.Value.GetRawText();
    }

    static SafeTensorsEntry ReadEntry(string path, string name, JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw Fail(path, name, $"the entry must be an object with dtype, shape and data_offsets, found {value.ValueKind}");

        if (!value.TryGetProperty("dtype", out var dtypeJson) || dtypeJson.ValueKind != JsonValueKind.String)
            throw Fail(path, name, "'dtype' is missing or not a string");
        var dtypeName = dtypeJson.GetString()!;
        if (!SafeTensorsDTypes.TryParse(dtypeName, out var dtype))
            throw Fail(path, name, $"unknown dtype '{dtypeName}' (known: {string.Join(", ", SafeTensorsDTypes.Names)})");

        if (!value.TryGetProperty("shape", out var shapeJson) || shapeJson.ValueKind != JsonValueKind.Array)
            throw Fail(path, name, "'shape' is missing or not a list");
        var shape = new int[shapeJson.GetArrayLength()];
        int i = 0;
        foreach (var d in shapeJson.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long dim) || dim < 0)
                throw Fail(path, name, $"'shape' must be a list of non-negative integers, found {shapeJson.GetRawText()}");
            if (dim > int.MaxValue)
                throw Fail(path, name, $"dimension {dim} in shape {shapeJson.GetRawText()} is larger than Deja supports (2^31-1)");
            shape[i++] = (int)dim;
        }

        if (!value.TryGetProperty("data_offsets", out var offsetsJson) || offsetsJson.ValueKind != JsonValueKind.Array
            || offsetsJson.GetArrayLength() != 2)
            throw Fail(path, name, "'data_offsets' is missing or not a list [begin, end]");
        var offsets = new long[2];
        i = 0;
        foreach (var o in offsetsJson.EnumerateArray())
        {
            if (o.ValueKind != JsonValueKind.Number || !o.TryGetInt64(out long v) || v < 0)
                throw Fail(path, name, $"'data_offsets' must be two non-negative integers, found {offsetsJson.GetRawText()}");
            offsets[i++] = v;
        }
        long begin = offsets[0], end = offsets[1];
        if (begin > end)
            throw Fail(path, name, $"data_offsets [{begin},{end}] end before they begin");

        long bytes;
        try
        {
            long count = 1;
            foreach (var d in shape) count = checked(count * d);
            bytes = checked(count * dtype.SizeOf());
        }
        catch (OverflowException) { throw Fail(path, name, $"shape {Shapes.Str(shape)} has too many elements"); }
        if (end - begin != bytes)
            throw Fail(path, name, $"data_offsets [{begin},{end}] span {end - begin} bytes, but {dtype} {Shapes.Str(shape)} needs {bytes} bytes ({dtype.SizeOf()} per element)");

        return new SafeTensorsEntry(name, dtype, shape, begin, end);
    }

    /// <summary>
    /// Bounds, overlap and coverage checks over all entries (after each entry is known to be self-consistent).
    /// Like the reference implementation, the tensors must tile the data area exactly: every byte belongs
    /// to exactly one tensor, so bytes inserted between or after tensors (damage, or data smuggled past
    /// the header) are refused instead of silently ignored.
    /// </summary>
    static void CheckLayout(string path, List<SafeTensorsEntry> entries, long dataLength)
    {
        var byOffset = entries.OrderBy(e => e.Begin).ThenBy(e => e.End).ToList();

        // A header whose tensors tile the data area without gaps, but whose data is cut short, is a
        // truncated file (an interrupted download or copy), not a corrupt header: say so.
        long described = byOffset.Count == 0 ? 0 : byOffset[^1].End;
        if (described > dataLength && IsContiguous(byOffset))
        {
            var first = byOffset.First(e => e.End > dataLength);
            throw Fail(path, $"the file is truncated: its header describes {described} bytes of tensor data but only {dataLength} are present " +
                             $"(tensor '{first.Name}' and every later one are incomplete)");
        }

        foreach (var e in byOffset)
            if (e.End > dataLength)
                throw Fail(path, e.Name, $"data_offsets [{e.Begin},{e.End}] lie outside the data area, which has {dataLength} bytes");

        long expected = 0;
        SafeTensorsEntry? previous = null;
        foreach (var e in byOffset)
        {
            if (e.Begin < expected)
                throw Fail(path, e.Name, $"data_offsets [{e.Begin},{e.End}] overlap tensor '{previous!.Name}' [{previous.Begin},{previous.End}]");
            if (e.Begin > expected)
                throw Fail(path, e.Name, previous is null
                    ? $"data_offsets [{e.Begin},{e.End}]: the data area starts with {e.Begin} bytes that belong to no tensor"
                    : $"data_offsets [{e.Begin},{e.End}]: the {e.Begin - expected} bytes between it and tensor '{previous.Name}' (which ends at {expected}) belong to no tensor");
            if (e.ByteLength > 0) previous = e; // empty tensors occupy no bytes and cannot collide
            expected = e.End;
        }
        if (expected < dataLength)
            throw Fail(path, $"{dataLength - expected} bytes after the last tensor belong to no tensor (the tensors end at byte {expected} of the " +
                             $"{dataLength}-byte data area): bytes were appended or inserted, or the header was edited");
    }

    static bool IsContiguous(List<SafeTensorsEntry> byOffset)
    {
        long expected = 0;
        foreach (var e in byOffset)
        {
            if (e.Begin != expected) return false;
            expected = e.End;
        }
        return true;
    }

    public static DejaException Fail(string path, string what) =>
        new($"safetensors file '{path}': {what}");

    public static DejaException Fail(string path, string tensor, string what) =>
        new($"safetensors file '{path}': tensor '{tensor}': {what}");
}
