using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Deja.Tensors.Kernels;

/// <summary>Strided row copies for the conv layout with stride &gt; 1: SIMD for stride 2 with AVX-512,
/// AVX2 or NEON, scalar elsewhere (the results are copies, identical on every path).</summary>
internal static unsafe class Strided
{
    // kernels are compiled fully optimized at once: tier-0 code would distort the first calls
    const MethodImplOptions Hot = MethodImplOptions.AggressiveOptimization;

    /// <summary>dst[k] = src[k·step] for k &lt; count. For step 2 the SIMD loop may read up to
    /// src[2·count + 30]: the caller provides that slack.</summary>
    [MethodImpl(Hot)]
    public static void Gather(float* src, int step, int count, float* dst)
    {
        int k = 0;
        if (step == 2 && Avx512F.IsSupported)
        {
            // the even lanes of two loads: 16 outputs from 32 inputs
            var even = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            for (; k + 16 <= count; k += 16)
            {
                var a = Avx512F.LoadVector512(src + 2 * k);
                var b = Avx512F.LoadVector512(src + 2 * k + 16);
                Avx512F.Store(dst + k, Avx512F.PermuteVar16x32x2(a, even, b));
            }
        }
        else if (step == 2 && Avx2.IsSupported)
        {
            for (; k + 8 <= count; k += 8)
            {
                var a = Avx.LoadVector256(src + 2 * k);
                var b = Avx.LoadVector256(src + 2 * k + 8);
                // even lanes per 128-bit half: a0 a2 b0 b2 | a4 a6 b4 b6, then the 64-bit pairs reordered
                var mixed = Avx.Shuffle(a, b, 0b10_00_10_00);
                Avx.Store(dst + k, Avx2.Permute4x64(mixed.AsDouble(), 0b11_01_10_00).AsSingle());
            }
        }
        else if (step == 2 && AdvSimd.Arm64.IsSupported)
        {
            for (; k + 4 <= count; k += 4)
                AdvSimd.Store(dst + k, AdvSimd.Arm64.UnzipEven(AdvSimd.LoadVector128(src + 2 * k), AdvSimd.LoadVector128(src + 2 * k + 4)));
        }
        for (; k < count; k++) dst[k] = src[(long)k * step];
    }

    /// <summary>dst[k·step] = src[k] for k &lt; count.</summary>
    [MethodImpl(Hot)]
    public static void Scatter(float* src, int count, int step, float* dst)
    {
        for (int k = 0; k < count; k++) dst[(long)k * step] = src[k];
    }

    /// <summary>dst[2k] = a[k], dst[2k+1] = b[k] for k &lt; count.</summary>
    [MethodImpl(Hot)]
    public static void Interleave2(float* a, float* b, int count, float* dst)
    {
        int k = 0;
        if (Avx512F.IsSupported)
        {
            var lo = Vector512.Create(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
            var hi = Vector512.Create(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
            for (; k + 16 <= count; k += 16)
            {
                var va = Avx512F.LoadVector512(a + k);
                var vb = Avx512F.LoadVector512(b + k);
                Avx512F.Store(dst + 2 * k, Avx512F.PermuteVar16x32x2(va, lo, vb));
                Avx512F.Store(dst + 2 * k + 16, Avx512F.PermuteVar16x32x2(va, hi, vb));
            }
        }
        else if (Avx.IsSupported)
        {
            for (; k + 8 <= count; k += 8)
            {
                var va = Avx.LoadVector256(a + k);
                var vb = Avx.LoadVector256(b + k);
                // per 128-bit half: lo = a0 b0 a1 b1 | a4 b4 a5 b5, hi = a2 b2 a3 b3 | a6 b6 a7 b7
                var lo = Avx.UnpackLow(va, vb);
                var hi = Avx.UnpackHigh(va, vb);
                Avx.Store(dst + 2 * k, Avx.Permute2x128(lo, hi, 0x20));
                Avx.Store(dst + 2 * k + 8, Avx.Permute2x128(lo, hi, 0x31));
            }
        }
        else if (AdvSimd.Arm64.IsSupported)
        {
            for (; k + 4 <= count; k += 4)
            {
                var va = AdvSimd.LoadVector128(a + k);
                var vb = AdvSimd.LoadVector128(b + k);
                AdvSimd.Store(dst + 2 * k, AdvSimd.Arm64.ZipLow(va, vb));
                AdvSimd.Store(dst + 2 * k + 4, AdvSimd.Arm64.ZipHigh(va, vb));
            }
        }
        for (; k < count; k++) { dst[2 * k] = a[k]; dst[2 * k + 1] = b[k]; }
    }
}
