using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Deja.Diffusion.IO;

/// <summary>Vectorized scans of float data as it is loaded.</summary>
internal static class FloatChecks
{
    const uint AbsMask = 0x7FFF_FFFF, Infinity = 0x7F80_0000;

    /// <summary>The index of the first NaN or ±infinity in <paramref name="values"/>, or −1 when all are finite.</summary>
    public static int IndexOfNonFinite(ReadOnlySpan<float> values)
    {
        // A float is non-finite exactly when its bits without the sign are at least those of +infinity.
        // The fast path only takes the maximum of those (two instructions per vector, no branch); the
        // rare damaged block is then searched element by element.
        var bits = MemoryMarshal.Cast<float, uint>(values);
        uint largest = 0;
        int i = 0;
        if (Vector512.IsHardwareAccelerated && bits.Length >= Vector512<uint>.Count)
        {
            var mask = Vector512.Create(AbsMask);
            var max = Vector512<uint>.Zero;
            for (; i <= bits.Length - Vector512<uint>.Count; i += Vector512<uint>.Count)
                max = Vector512.Max(max, Vector512.Create(bits.Slice(i, Vector512<uint>.Count)) & mask);
            largest = MaxLane(max.GetLower(), max.GetUpper());
        }
        else if (Vector256.IsHardwareAccelerated && bits.Length >= Vector256<uint>.Count)
        {
            var mask = Vector256.Create(AbsMask);
            var max = Vector256<uint>.Zero;
            for (; i <= bits.Length - Vector256<uint>.Count; i += Vector256<uint>.Count)
                max = Vector256.Max(max, Vector256.Create(bits.Slice(i, Vector256<uint>.Count)) & mask);
            largest = MaxLane(max, max);
        }
        for (; i < bits.Length; i++) largest = Math.Max(largest, bits[i] & AbsMask);
        if (largest < Infinity) return -1;
        for (int k = 0; k < bits.Length; k++)
            if ((bits[k] & AbsMask) >= Infinity) return k;
        return -1;
    }

    static uint MaxLane(Vector256<uint> a, Vector256<uint> b)
    {
        var m = Vector256.Max(a, b);
        uint largest = 0;
        for (int k = 0; k < Vector256<uint>.Count; k++) largest = Math.Max(largest, m[k]);
        return largest;
    }
}
