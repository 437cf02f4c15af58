using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Deja.Diffusion.IO;

/// <summary>Vectorized scans of float data as it is loaded.</summary>
internal static class FloatChecks
{
    const uint ExponentMask = 0x7F80_0000;

    /// <summary>The index of the first NaN or ±infinity in <paramref name="values"/>, or −1 when all are finite.</summary>
    public static int IndexOfNonFinite(ReadOnlySpan<float> values)
    {
        // A float is non-finite exactly when all its exponent bits are set.
        var bits = MemoryMarshal.Cast<float, uint>(values);
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var mask = Vector512.Create(ExponentMask);
            for (; i <= bits.Length - Vector512<uint>.Count; i += Vector512<uint>.Count)
                if (Vector512.EqualsAny(Vector512.Create(bits.Slice(i, Vector512<uint>.Count)) & mask, mask)) break;
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var mask = Vector256.Create(ExponentMask);
            for (; i <= bits.Length - Vector256<uint>.Count; i += Vector256<uint>.Count)
                if (Vector256.EqualsAny(Vector256.Create(bits.Slice(i, Vector256<uint>.Count)) & mask, mask)) break;
        }
        for (; i < bits.Length; i++)
            if ((bits[i] & ExponentMask) == ExponentMask) return i;
        return -1;
    }
}
