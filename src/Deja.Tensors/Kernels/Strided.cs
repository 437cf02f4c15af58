using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Deja.Tensors.Kernels;

/// <summary>Strided row copies for the conv layout with stride &gt; 1 (SIMD for stride 2).</summary>
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
        for (; k < count; k++) { dst[2 * k] = a[k]; dst[2 * k + 1] = b[k]; }
    }
}
