using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Deja.Tensors.Kernels;

/// <summary>
/// Nearest-neighbour 2× upsampling of image rows and its adjoint, the 2×2 block sum. Both are
/// memory-bound: rows are processed in parallel chunks, each element once, with SIMD duplication
/// (upsample) and SIMD pairwise sums (block sum).
/// </summary>
internal static unsafe class Upsample2x
{
    // kernels are compiled fully optimized at once: tier-0 code would distort the first calls
    const MethodImplOptions Hot = MethodImplOptions.AggressiveOptimization;

    /// <summary>Input rows per parallel task: about 64K output floats each, whatever the width.</summary>
    static int RowsPerTask(int w) => Math.Max(1, 16384 / Math.Max(w, 1));

    /// <summary>x: <paramref name="rows"/> rows of <paramref name="w"/> → y: for each, two identical rows of 2w.</summary>
    public static void Up(float* x, int rows, int w, float* y)
    {
        nint X = (nint)x, Y = (nint)y;
        Threading.Chunks(rows, RowsPerTask(w), [MethodImpl(Hot)] (r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
            {
                float* src = (float*)X + (long)r * w, dst = (float*)Y + (long)r * 4 * w;
                DuplicateRow(src, w, dst);
                Buffer.MemoryCopy(dst, dst + 2 * w, 8L * w, 8L * w);
            }
        });
    }

    /// <summary>y: <paramref name="rows"/> row pairs of 2w → x: each 2×2 block summed, rows of w.</summary>
    public static void BlockSum(float* y, int rows, int w, float* x)
    {
        nint Y = (nint)y, X = (nint)x;
        Threading.Chunks(rows, RowsPerTask(w), [MethodImpl(Hot)] (r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
                PairSumRows((float*)Y + (long)r * 4 * w, (float*)Y + (long)r * 4 * w + 2 * w, w, (float*)X + (long)r * w);
        });
    }

    /// <summary>dst[2j] = dst[2j+1] = src[j].</summary>
    [MethodImpl(Hot)]
    static void DuplicateRow(float* src, int w, float* dst)
    {
        int j = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var lo = Vector512.Create(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
            var hi = Vector512.Create(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
            for (; j + 16 <= w; j += 16)
            {
                var v = Vector512.Load(src + j);
                Vector512.Shuffle(v, lo).Store(dst + 2 * j);
                Vector512.Shuffle(v, hi).Store(dst + 2 * j + 16);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var lo = Vector256.Create(0, 0, 1, 1, 2, 2, 3, 3);
            var hi = Vector256.Create(4, 4, 5, 5, 6, 6, 7, 7);
            for (; j + 8 <= w; j += 8)
            {
                var v = Vector256.Load(src + j);
                Vector256.Shuffle(v, lo).Store(dst + 2 * j);
                Vector256.Shuffle(v, hi).Store(dst + 2 * j + 8);
            }
        }
        for (; j < w; j++) dst[2 * j] = dst[2 * j + 1] = src[j];
    }

    /// <summary>dst[j] = (a[2j] + b[2j]) + (a[2j+1] + b[2j+1]).</summary>
    [MethodImpl(Hot)]
    static void PairSumRows(float* a, float* b, int w, float* dst)
    {
        int j = 0;
        if (Avx2.IsSupported)
        {
            for (; j + 8 <= w; j += 8)
            {
                var s0 = Avx.Add(Avx.LoadVector256(a + 2 * j), Avx.LoadVector256(b + 2 * j));
                var s1 = Avx.Add(Avx.LoadVector256(a + 2 * j + 8), Avx.LoadVector256(b + 2 * j + 8));
                // hadd pairs within 128-bit lanes: [s0 01,23 | s1 01,23 | s0 45,67 | s1 45,67]; restore order
                var h = Avx.HorizontalAdd(s0, s1);
                Avx2.Permute4x64(h.AsDouble(), 0b11_01_10_00).AsSingle().Store(dst + j);
            }
        }
        for (; j < w; j++) dst[j] = (a[2 * j] + b[2 * j]) + (a[2 * j + 1] + b[2 * j + 1]); // the SIMD order
    }
}
