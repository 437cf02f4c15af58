namespace Deja.Diffusion.IO;

/// <summary>The element types of the safetensors format (names as they appear in the header).</summary>
public enum SafeTensorsDType
{
    BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64,
}

public static class SafeTensorsDTypes
{
    /// <summary>Bytes per element.</summary>
    public static int SizeOf(this SafeTensorsDType dtype) => dtype switch
    {
        SafeTensorsDType.BOOL or SafeTensorsDType.U8 or SafeTensorsDType.I8 or
        SafeTensorsDType.F8_E5M2 or SafeTensorsDType.F8_E4M3 => 1,
        SafeTensorsDType.I16 or SafeTensorsDType.U16 or SafeTensorsDType.F16 or SafeTensorsDType.BF16 => 2,
        SafeTensorsDType.I32 or SafeTensorsDType.U32 or SafeTensorsDType.F32 => 4,
        SafeTensorsDType.F64 or SafeTensorsDType.I64 or SafeTensorsDType.U64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown safetensors dtype"),
    };

    /// <summary>The header spelling of every dtype, e.g. "F32".</summary>
    public static IReadOnlyList<string> Names { get; } = Enum.GetNames<SafeTensorsDType>();

    /// <summary>Parses a header dtype name (case-sensitive, as the format defines it).</summary>
    public static bool TryParse(string name, out SafeTensorsDType dtype)
    {
        foreach (var d in Enum.GetValues<SafeTensorsDType>())
            if (d.ToString() == name) { dtype = d; return true; }
        dtype = default;
        return false;
    }

    /// <summary>Whether <see cref="SafeTensorsFile.ReadTensor"/> can turn this dtype into float32.</summary>
    public static bool IsReadableAsFloat(this SafeTensorsDType dtype) =>
        dtype is SafeTensorsDType.F32 or SafeTensorsDType.F16 or SafeTensorsDType.BF16 or SafeTensorsDType.F64;

    /// <summary>Whether <see cref="SafeTensorsFile.ReadInt64"/> can turn this dtype into int64.</summary>
    public static bool IsReadableAsInt64(this SafeTensorsDType dtype) =>
        dtype is SafeTensorsDType.I64 or SafeTensorsDType.I32 or SafeTensorsDType.I16 or SafeTensorsDType.I8
            or SafeTensorsDType.U8 or SafeTensorsDType.U16 or SafeTensorsDType.U32 or SafeTensorsDType.BOOL;
}
