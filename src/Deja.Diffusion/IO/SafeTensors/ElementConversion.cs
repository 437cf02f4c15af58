using Deja.Tensors;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Deja.Diffusion.IO;

/// <summary>
/// Converts stored elements to and from float32. Widening is exact (every F16/BF16 value, subnormals,
/// infinities and NaNs included, is a float32); narrowing rounds to nearest-even like PyTorch's
/// <c>.half()</c> / <c>.bfloat16()</c>. Sources are raw little-endian bytes that may be unaligned.
/// </summary>
internal static unsafe class ElementConversion
{
    /// <summary>Widens <paramref name="destination"/>.Length elements of <paramref name="dtype"/> at <paramref name="source"/>.</summary>
    public static void ToFloat32(SafeTensorsDType dtype, byte* source, Span<float> destination)
    {
        int n = destination.Length;
        switch (dtype)
        {
            case SafeTensorsDType.F32:
                new ReadOnlySpan<float>(source, n).CopyTo(destination);
                break;
            case SafeTensorsDType.F16:
                TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>(source, n), destination);
                break;
            case SafeTensorsDType.BF16:
                BFloat16ToSingle(new ReadOnlySpan<ushort>(source, n), destination);
                break;
            case SafeTensorsDType.F64:
                var d = new ReadOnlySpan<double>(source, n);
                for (int i = 0; i < n; i++) destination[i] = (float)d[i];
                break;
            default:
                throw new DejaException($"{dtype} cannot be read as float32");
        }
    }

    /// <summary>bfloat16 is the top half of a float32, so widening is a 16-bit shift.</summary>
    public static void BFloat16ToSingle(ReadOnlySpan<ushort> source, Span<float> destination)
    {
        var dst = MemoryMarshal.Cast<float, uint>(destination);
        int i = Vector512.IsHardwareAccelerated ? BFloat16ToSingle512(source, dst)
              : Vector256.IsHardwareAccelerated ? BFloat16ToSingle256(source, dst) : 0;
        for (; i < source.Length; i++) dst[i] = (uint)source[i] << 16;
    }

    /// <summary>Vector part of the widening; returns how many elements it converted (the rest is the caller's tail).</summary>
    internal static int BFloat16ToSingle512(ReadOnlySpan<ushort> source, Span<uint> destination)
    {
        int i = 0;
        for (; i <= source.Length - Vector512<ushort>.Count; i += Vector512<ushort>.Count)
        {
            var (lo, hi) = Vector512.Widen(Vector512.Create(source.Slice(i, Vector512<ushort>.Count)));
            (lo << 16).CopyTo(destination.Slice(i));
            (hi << 16).CopyTo(destination.Slice(i + Vector512<uint>.Count));
        }
        return i;
    }

    internal static int BFloat16ToSingle256(ReadOnlySpan<ushort> source, Span<uint> destination)
    {
        int i = 0;
        for (; i <= source.Length - Vector256<ushort>.Count; i += Vector256<ushort>.Count)
        {
            var (lo, hi) = Vector256.Widen(Vector256.Create(source.Slice(i, Vector256<ushort>.Count)));
            (lo << 16).CopyTo(destination.Slice(i));
            (hi << 16).CopyTo(destination.Slice(i + Vector256<uint>.Count));
        }
        return i;
    }

    /// <summary>Rounds float32 to bfloat16, nearest-even; NaNs stay NaN (quiet, sign kept).</summary>
    public static void SingleToBFloat16(ReadOnlySpan<float> source, Span<ushort> destination)
    {
        var src = MemoryMarshal.Cast<float, uint>(source);
        for (int i = 0; i < src.Length; i++)
        {
            uint bits = src[i];
            if ((bits & 0x7FFF_FFFF) > 0x7F80_0000) { destination[i] = (ushort)((bits >> 16) | 0x0040); continue; }
            // Adding 0x7FFF plus the lowest kept bit rounds half-way cases to the even neighbour;
            // the carry may ripple into the exponent, which is exactly the rounding to the next binade / infinity.
            destination[i] = (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
        }
    }

    public static void SingleToHalf(ReadOnlySpan<float> source, Span<Half> destination) =>
        TensorPrimitives.ConvertToHalf(source, destination);

    /// <summary>Widens integer (or bool) elements to int64.</summary>
    public static void ToInt64(SafeTensorsDType dtype, byte* source, Span<long> destination)
    {
        int n = destination.Length;
        switch (dtype)
        {
            case SafeTensorsDType.I64: new ReadOnlySpan<long>(source, n).CopyTo(destination); break;
            case SafeTensorsDType.I32: Widen(new ReadOnlySpan<int>(source, n), destination); break;
            case SafeTensorsDType.U32: Widen(new ReadOnlySpan<uint>(source, n), destination); break;
            case SafeTensorsDType.I16: Widen(new ReadOnlySpan<short>(source, n), destination); break;
            case SafeTensorsDType.U16: Widen(new ReadOnlySpan<ushort>(source, n), destination); break;
            case SafeTensorsDType.I8: Widen(new ReadOnlySpan<sbyte>(source, n), destination); break;
            case SafeTensorsDType.U8:
            case SafeTensorsDType.BOOL: Widen(new ReadOnlySpan<byte>(source, n), destination); break;
            default: throw new DejaException($"{dtype} cannot be read as int64");
        }
    }

    static void Widen<T>(ReadOnlySpan<T> source, Span<long> destination) where T : System.Numerics.IBinaryInteger<T>
    {
        for (int i = 0; i < source.Length; i++) destination[i] = long.CreateTruncating(source[i]);
    }
}
