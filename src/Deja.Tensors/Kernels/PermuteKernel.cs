using System.Runtime.Intrinsics.X86;

namespace Deja.Tensors.Kernels;

/// <summary>
/// Copies a contiguous tensor into the contiguous layout of its permuted dims.
/// The permutation is first simplified (size-1 dims dropped, dims that stay adjacent merged), then:
/// when the innermost dim stays innermost, whole contiguous runs are copied (e.g. attention's
/// [B, N, H, D] ↔ [B, H, N, D] moves runs of D floats); otherwise the plane formed by the source's and
/// the destination's innermost dims is transposed in cache-sized tiles (e.g. [B, C, HW] → [B, HW, C]).
/// Each output element is written by exactly one task, so the thread count cannot change the result.
/// </summary>
[System.Runtime.CompilerServices.SkipLocalsInit]
public static class PermuteKernel
{
    const int TaskWork = 1 << 15;
    const int Tile = 32;

    /// <summary>dst = src permuted: output dim i is source dim perm[i]. perm must be a valid permutation.</summary>
    public static void Apply(float[] src, int srcOffset, int[] shape, int[] perm, float[] dst, int dstOffset)
    {
        int n = Shapes.Numel(shape);
        if (n == 0) return;
        var (sShape, sPerm) = Simplify(shape, perm);
        int r = sShape.Length;
        if (r <= 1) { Copy(src, srcOffset, dst, dstOffset, n); return; }
        var srcStrides = Shapes.Strides(sShape);
        var outShape = new int[r];
        var inStride = new int[r]; // source stride of each output dim
        for (int i = 0; i < r; i++) { outShape[i] = sShape[sPerm[i]]; inStride[i] = srcStrides[sPerm[i]]; }
        if (sPerm[r - 1] == r - 1) Runs(src, srcOffset, dst, dstOffset, outShape, inStride);
        else Tiles(src, srcOffset, dst, dstOffset, outShape, inStride, Array.IndexOf(sPerm, r - 1));
    }

    /// <summary>Drops size-1 dims and merges output dims that are also adjacent, in order, in the source.</summary>
    internal static (int[] Shape, int[] Perm) Simplify(int[] shape, int[] perm)
    {
        // Renumber the source dims that are not 1.
        var newIndex = new int[shape.Length];
        var kept = new List<int>();
        for (int d = 0; d < shape.Length; d++) { newIndex[d] = kept.Count; if (shape[d] != 1) kept.Add(shape[d]); }
        var p = perm.Where(d => shape[d] != 1).Select(d => newIndex[d]).ToList();
        // Groups of consecutive output dims that are consecutive source dims.
        var groups = new List<(int First, int Last)>();
        foreach (var d in p)
        {
            if (groups.Count > 0 && groups[^1].Last + 1 == d) groups[^1] = (groups[^1].First, d);
            else groups.Add((d, d));
        }
        // Number the groups in source order.
        var bySource = groups.Select((g, i) => (g.First, i)).OrderBy(t => t.First).ToArray();
        var sShape = new int[groups.Count];
        var sPerm = new int[groups.Count];
        for (int s = 0; s < bySource.Length; s++)
        {
            var g = groups[bySource[s].i];
            int size = 1;
            for (int d = g.First; d <= g.Last; d++) size *= kept[d];
            sShape[s] = size;
            sPerm[bySource[s].i] = s;
        }
        return (sShape, sPerm);
    }

    static void Copy(float[] src, int srcOffset, float[] dst, int dstOffset, int n)
    {
        if (n < Elementwise.ParallelThreshold) { src.AsSpan(srcOffset, n).CopyTo(dst.AsSpan(dstOffset, n)); return; }
        Threading.Chunks(n, TaskWork, (s, e) => src.AsSpan(srcOffset + s, e - s).CopyTo(dst.AsSpan(dstOffset + s, e - s)));
    }

    /// <summary>The innermost dim stays innermost: copy contiguous runs of its length, walking the output in order.</summary>
    static void Runs(float[] src, int srcOffset, float[] dst, int dstOffset, int[] outShape, int[] inStride)
    {
        int r = outShape.Length, len = outShape[r - 1];
        int runs = Shapes.Numel(outShape) / len;
        int outerRank = r - 1;
        void Task(int s, int e)
        {
            // Odometer over the output dims before the last, starting at run s.
            Span<int> idx = stackalloc int[outerRank];
            int rem = s, at = srcOffset;
            for (int d = outerRank - 1; d >= 0; d--) { idx[d] = rem % outShape[d]; rem /= outShape[d]; at += idx[d] * inStride[d]; }
            int last = outerRank - 1, lastSize = outShape[last], lastStride = inStride[last];
            var to = dst.AsSpan(dstOffset + s * len, (e - s) * len);
            for (int k = s; k < e; k++)
            {
                var from = src.AsSpan(at, len);
                var into = to.Slice((k - s) * len, len);
                if (len >= 8) from.CopyTo(into);
                else for (int t = 0; t < len; t++) into[t] = from[t];
                at += lastStride;
                if (++idx[last] < lastSize) continue;
                // Carry into the slower dims.
                at -= lastSize * lastStride;
                idx[last] = 0;
                for (int d = last - 1; d >= 0; d--)
                {
                    at += inStride[d];
                    if (++idx[d] < outShape[d]) break;
                    at -= outShape[d] * inStride[d];
                    idx[d] = 0;
                }
            }
        }
        int perTask = Math.Max(1, TaskWork / len);
        if ((long)runs * len < Elementwise.ParallelThreshold) Task(0, runs);
        else Threading.Chunks(runs, perTask, Task);
    }

    /// <summary>
    /// The source's innermost dim sits at output position <paramref name="q"/>: for each combination of
    /// the other dims, transpose the [size(q), size(last)] plane in tiles, 8×8 blocks in registers.
    /// </summary>
    static unsafe void Tiles(float[] src, int srcOffset, float[] dst, int dstOffset, int[] outShape, int[] inStride, int q)
    {
        int r = outShape.Length;
        var outStride = Shapes.Strides(outShape);
        int rows = outShape[q], cols = outShape[r - 1]; // plane: output rows × output columns
        int rowStride = outStride[q], colStride = inStride[r - 1]; // the source stride of a row is 1
        var planeDims = Enumerable.Range(0, r - 1).Where(d => d != q).ToArray();
        int planes = 1;
        foreach (var d in planeDims) planes *= outShape[d];
        int rowTiles = (rows + Tile - 1) / Tile;

        void Task(int t)
        {
            int plane = t / rowTiles, r0 = t % rowTiles * Tile, r1 = Math.Min(rows, r0 + Tile);
            int sBase = srcOffset, dBase = dstOffset, rem = plane;
            for (int k = planeDims.Length - 1; k >= 0; k--)
            {
                int d = planeDims[k], c = rem % outShape[d];
                rem /= outShape[d];
                sBase += c * inStride[d];
                dBase += c * outStride[d];
            }
            fixed (float* ps0 = src, pd0 = dst)
            {
                float* ps = ps0 + sBase, pd = pd0 + dBase;
                for (int c0 = 0; c0 < cols; c0 += Tile)
                {
                    int c1 = Math.Min(cols, c0 + Tile);
                    int rb = r0;
                    if (Avx.IsSupported)
                        for (; rb + 8 <= r1; rb += 8)
                        {
                            int cb = c0;
                            for (; cb + 8 <= c1; cb += 8)
                                Transpose8x8(ps + rb + (long)cb * colStride, colStride, pd + (long)rb * rowStride + cb, rowStride);
                            Scalar(ps, pd, rb, rb + 8, cb, c1, rowStride, colStride);
                        }
                    Scalar(ps, pd, rb, r1, c0, c1, rowStride, colStride);
                }
            }
        }
        int tasks = planes * rowTiles;
        long total = (long)planes * rows * cols;
        if (total < Elementwise.ParallelThreshold) { for (int t = 0; t < tasks; t++) Task(t); return; }
        int perTask = Math.Max(1, TaskWork / (Tile * cols));
        Threading.Chunks(tasks, perTask, (s, e) => { for (int t = s; t < e; t++) Task(t); });
    }

    static unsafe void Scalar(float* src, float* dst, int r0, int r1, int c0, int c1, int rowStride, int colStride)
    {
        for (int row = r0; row < r1; row++)
        {
            float* s = src + row + (long)c0 * colStride;
            float* d = dst + (long)row * rowStride;
            for (int c = c0; c < c1; c++, s += colStride) d[c] = *s;
        }
    }

    /// <summary>
    /// Reads 8 source vectors (8 consecutive output rows each, one per output column) and writes them as
    /// 8 output row segments: the usual unpack / shuffle / lane-swap transpose.
    /// </summary>
    static unsafe void Transpose8x8(float* src, int srcStride, float* dst, int dstStride)
    {
        var r0 = Avx.LoadVector256(src);
        var r1 = Avx.LoadVector256(src + srcStride);
        var r2 = Avx.LoadVector256(src + 2 * (long)srcStride);
        var r3 = Avx.LoadVector256(src + 3 * (long)srcStride);
        var r4 = Avx.LoadVector256(src + 4 * (long)srcStride);
        var r5 = Avx.LoadVector256(src + 5 * (long)srcStride);
        var r6 = Avx.LoadVector256(src + 6 * (long)srcStride);
        var r7 = Avx.LoadVector256(src + 7 * (long)srcStride);
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(dst, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(dst + dstStride, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(dst + 2 * (long)dstStride, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(dst + 3 * (long)dstStride, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(dst + 4 * (long)dstStride, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(dst + 5 * (long)dstStride, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(dst + 6 * (long)dstStride, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(dst + 7 * (long)dstStride, Avx.Permute2x128(u3, u7, 0x31));
    }
}
