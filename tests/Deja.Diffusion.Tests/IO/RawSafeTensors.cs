using System.Buffers.Binary;
using System.Text;

namespace Deja.Diffusion.Tests.IO;

/// <summary>Builds safetensors files byte by byte, so tests control every field (including broken ones).</summary>
public static class RawSafeTensors
{
    /// <summary>
    /// 8-byte length (the real header length unless <paramref name="declaredLength"/> overrides it),
    /// the header text (space-padded to a multiple of 8 unless <paramref name="pad"/> is false), then <paramref name="data"/>.
    /// </summary>
    public static byte[] Build(string header, ReadOnlySpan<byte> data, ulong? declaredLength = null, bool pad = true)
    {
        var h = Encoding.UTF8.GetBytes(header).ToList();
        while (pad && h.Count % 8 != 0) h.Add((byte)' ');
        var bytes = new byte[8 + h.Count + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredLength ?? (ulong)h.Count);
        h.CopyTo(bytes, 8);
        data.CopyTo(bytes.AsSpan(8 + h.Count));
        return bytes;
    }

    public static string Write(TempDir dir, string name, string header, ReadOnlySpan<byte> data, ulong? declaredLength = null)
    {
        var path = dir.File(name);
        File.WriteAllBytes(path, Build(header, data, declaredLength));
        return path;
    }

    /// <summary>One tensor entry of a header.</summary>
    public static string Entry(string name, string dtype, int[] shape, long begin, long end) =>
        $"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":[{string.Join(",", shape)}],\"data_offsets\":[{begin},{end}]}}";
}
