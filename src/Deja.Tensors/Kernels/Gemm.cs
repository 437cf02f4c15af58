using System.Numerics;
using System.Runtime.InteropServices;

namespace Deja.Tensors.Kernels;

/// <summary>
/// Row-major single-precision GEMM, C = alpha·op(A)·op(B) + beta·C, through OpenBLAS when it is
/// loaded and Deja's managed blocked kernel otherwise. op(X) is X or its transpose.
///
/// Thread-count invariance. OpenBLAS's own threading splits C among its threads, and with its AVX2
/// (Haswell/Zen) kernels an element's value depends on where the split falls (edge tiles accumulate
/// in another order), so 1 and 2 threads differ in the 6th digit. Deja therefore splits a large GEMM
/// itself into column (or row) panels whose boundaries depend only on the shape and the core count (<see cref="Panels"/>),
/// runs the panels on its own threads, and calls OpenBLAS single-threaded on each: any thread count
/// gives the same bits. DEJA_GEMM=blas restores OpenBLAS's own threading (faster on no CPU we
/// measured; kept for comparison, and it gives up the invariance).
/// </summary>
public static unsafe class Gemm
{
    /// <summary>Forces the managed kernel even when OpenBLAS is present (tests, comparisons).</summary>
    public static bool ForceManaged { get; set; }

    /// <summary>True (default) when Deja partitions GEMMs itself into shape-determined panels and keeps
    /// OpenBLAS single-threaded; false with DEJA_GEMM=blas.</summary>
    public static bool DejaPartitions
    {
        get => dejaPartitions;
        set { dejaPartitions = value; Blas.SetThreads(Threading.Threads); } // OpenBLAS's own threads follow
    }

    static bool dejaPartitions =
        !string.Equals(Environment.GetEnvironmentVariable("DEJA_GEMM"), "blas", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Most panels a GEMM is cut into: the machine's core count (at most 8), not the thread setting, so
    /// that DEJA_THREADS never changes a result. Not more: each panel re-packs the shared operand, and at
    /// 8 panels on 2 cores that cost 40 % of a 1024³ product's speed (`deja bench panels`).
    /// </summary>
    internal static int PanelsPerProduct { get; set; } = Math.Clamp(Environment.ProcessorCount, 1, 8);
    /// <summary>Least work (multiply-adds) per panel; below it a panel costs more in calls and repacking
    /// of the shared operand than it gains in parallelism.</summary>
    const long MinPanelWork = 1L << 21;
    /// <summary>Panel widths are multiples of this (OpenBLAS's widest register tiles divide it).</summary>
    const int PanelAlign = 64;

    /// <summary>
    /// How a GEMM of this shape is split: along the columns of C when n ≥ m, else along its rows, into
    /// at most <see cref="PanelsPerProduct"/> panels of equal aligned width. A function of (m, n, k) and
    /// the machine's core count only.
    /// </summary>
    internal static (bool alongColumns, int panel, int count) Panels(int m, int n, int k)
    {
        bool cols = n >= m;
        int extent = cols ? n : m;
        long work = (long)m * n * k;
        int wanted = (int)Math.Clamp(work / MinPanelWork, 1, PanelsPerProduct);
        int panel = (extent + wanted - 1) / wanted;
        panel = (panel + PanelAlign - 1) / PanelAlign * PanelAlign;
        if (panel >= extent) return (cols, extent, 1);
        return (cols, panel, (extent + panel - 1) / panel);
    }

    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        Check(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        if (m == 0 || n == 0) return;
        fixed (float* pa = a) fixed (float* pb = b) fixed (float* pc = c)
            Sgemm(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
    }

    /// <summary>Pointer form; the caller guarantees the extents.</summary>
    internal static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        if (m == 0 || n == 0) return;
        if (k == 0)
        {
            for (int i = 0; i < m; i++)
            {
                var row = new Span<float>(c + (long)i * ldc, n);
                if (beta == 0) row.Clear(); else System.Numerics.Tensors.TensorPrimitives.Multiply(row, beta, row);
            }
            return;
        }
        if (!ForceManaged && Blas.Available)
        {
            if (DejaPartitions) Partitioned(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            else Blas.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        }
        else
            Managed(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    /// <summary>OpenBLAS (single-threaded) on each panel of <see cref="Panels"/>, the panels in parallel.</summary>
    static void Partitioned(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        var (alongColumns, panel, count) = Panels(m, n, k);
        if (count == 1) { Blas.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); return; }
        nint A = (nint)a, B = (nint)b, C = (nint)c;
        Threading.For(count, p =>
        {
            int start = p * panel, size = Math.Min(panel, (alongColumns ? n : m) - start);
            if (alongColumns)
            {
                // columns [start, start+size) of op(B) and of C
                float* bp = (float*)B + (transB ? (long)start * ldb : start);
                Blas.Sgemm(transA, transB, m, size, k, alpha, (float*)A, lda, bp, ldb, beta, (float*)C + start, ldc);
            }
            else
            {
                // rows [start, start+size) of op(A) and of C
                float* ap = (float*)A + (transA ? start : (long)start * lda);
                Blas.Sgemm(transA, transB, size, n, k, alpha, ap, lda, (float*)B, ldb, beta, (float*)C + (long)start * ldc, ldc);
            }
        });
    }

    static void Check(bool transA, bool transB, int m, int n, int k, int aLen, int lda, int bLen, int ldb, int cLen, int ldc)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentException($"sgemm: negative size m={m} n={n} k={k}");
        int aRows = transA ? k : m, aCols = transA ? m : k;
        int bRows = transB ? n : k, bCols = transB ? k : n;
        if (lda < Math.Max(1, aCols) || ldb < Math.Max(1, bCols) || ldc < Math.Max(1, n))
            throw new ArgumentException($"sgemm: leading dimensions lda={lda} ldb={ldb} ldc={ldc} too small for m={m} n={n} k={k}");
        if (aRows > 0 && (long)(aRows - 1) * lda + aCols > aLen) throw new ArgumentException($"sgemm: A holds {aLen} floats, needs {(long)(aRows - 1) * lda + aCols}");
        if (bRows > 0 && (long)(bRows - 1) * ldb + bCols > bLen) throw new ArgumentException($"sgemm: B holds {bLen} floats, needs {(long)(bRows - 1) * ldb + bCols}");
        if (m > 0 && (long)(m - 1) * ldc + n > cLen) throw new ArgumentException($"sgemm: C holds {cLen} floats, needs {(long)(m - 1) * ldc + n}");
    }

    // ------------------------------------------------------------------ managed fallback

    const int RowBlock = 4, ColBlock = 512, DepthBlock = 256;

    /// <summary>
    /// Blocked kernel: operands are first copied to row-major A (m×k) and B (k×n), then each task owns
    /// a block of C columns × rows and accumulates 4 rows at a time with SIMD over columns, so every
    /// loaded vector of B is used four times. Far below OpenBLAS, but correct and vectorized.
    /// </summary>
    static void Managed(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        float[] aBuf = BufferPool.Rent(m * k), bBuf = BufferPool.Rent(k * n);
        try
        {
            fixed (float* pa = aBuf) fixed (float* pb = bBuf)
            {
                for (int i = 0; i < m; i++)
                    for (int p = 0; p < k; p++)
                        pa[i * k + p] = alpha * (transA ? a[(long)p * lda + i] : a[(long)i * lda + p]);
                for (int p = 0; p < k; p++)
                    for (int j = 0; j < n; j++)
                        pb[p * n + j] = transB ? b[(long)j * ldb + p] : b[(long)p * ldb + j];
                nint A = (nint)pa, B = (nint)pb, C = (nint)c;
                int rowTasks = (m + RowBlock - 1) / RowBlock, colTasks = (n + ColBlock - 1) / ColBlock;
                Threading.For(rowTasks * colTasks, task =>
                {
                    int i0 = task / colTasks * RowBlock, j0 = task % colTasks * ColBlock;
                    int i1 = Math.Min(m, i0 + RowBlock), j1 = Math.Min(n, j0 + ColBlock);
                    Block((float*)A, (float*)B, (float*)C, k, n, ldc, beta, i0, i1, j0, j1);
                });
            }
        }
        finally
        {
            BufferPool.Return(aBuf);
            BufferPool.Return(bBuf);
        }
    }

    static void Block(float* a, float* b, float* c, int k, int n, int ldc, float beta, int i0, int i1, int j0, int j1)
    {
        int w = j1 - j0;
        for (int i = i0; i < i1; i++)
        {
            var row = new Span<float>(c + (long)i * ldc + j0, w);
            if (beta == 0) row.Clear();
            else if (beta != 1) System.Numerics.Tensors.TensorPrimitives.Multiply(row, beta, row);
        }
        int vw = Vector<float>.Count;
        for (int p0 = 0; p0 < k; p0 += DepthBlock)
        {
            int p1 = Math.Min(k, p0 + DepthBlock);
            int i = i0;
            for (; i + 3 < i1; i += 4)
            {
                float* c0 = c + (long)i * ldc, c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
                float* a0 = a + (long)i * k, a1 = a0 + k, a2 = a1 + k, a3 = a2 + k;
                int j = j0;
                for (; j + vw <= j1; j += vw)
                {
                    var s0 = Vector.Load(c0 + j); var s1 = Vector.Load(c1 + j);
                    var s2 = Vector.Load(c2 + j); var s3 = Vector.Load(c3 + j);
                    for (int p = p0; p < p1; p++)
                    {
                        var bv = Vector.Load(b + (long)p * n + j);
                        s0 += new Vector<float>(a0[p]) * bv; s1 += new Vector<float>(a1[p]) * bv;
                        s2 += new Vector<float>(a2[p]) * bv; s3 += new Vector<float>(a3[p]) * bv;
                    }
                    s0.Store(c0 + j); s1.Store(c1 + j); s2.Store(c2 + j); s3.Store(c3 + j);
                }
                for (; j < j1; j++)
                {
                    float t0 = 0, t1 = 0, t2 = 0, t3 = 0;
                    for (int p = p0; p < p1; p++)
                    {
                        float bv = b[(long)p * n + j];
                        t0 += a0[p] * bv; t1 += a1[p] * bv; t2 += a2[p] * bv; t3 += a3[p] * bv;
                    }
                    c0[j] += t0; c1[j] += t1; c2[j] += t2; c3[j] += t3;
                }
            }
            for (; i < i1; i++)
            {
                float* ci = c + (long)i * ldc, ai = a + (long)i * k;
                for (int p = p0; p < p1; p++)
                {
                    float av = ai[p];
                    float* bp = b + (long)p * n;
                    for (int j = j0; j < j1; j++) ci[j] += av * bp[j];
                }
            }
        }
    }
}
