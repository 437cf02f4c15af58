namespace Deja.Tensors.Kernels;

/// <summary>
/// Copies a contiguous tensor into the contiguous layout of its permuted dims.
/// The permutation is first simplified (size-1 dims dropped, dims that stay adjacent merged), then:
/// when the innermost dim stays innermost, whole contiguous runs are copied (e.g. attention's
/// [B, N, H, D] ↔ [B, H, N, D] moves runs of D floats); otherwise the plane formed by the source's and
/// the destination's innermost dims is transposed in cache-sized tiles (e.g. [B, C, HW] → [B, HW, C]).
/// Each output element is written by exactly one task, so the thread count cannot change the result.
/// </summary>
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
    /// the other dims, transpose the [size(q), size(last)] plane in tiles.
    /// </summary>
    static void Tiles(float[] src, int srcOffset, float[] dst, int dstOffset, int[] outShape, int[] inStride, int q)
    {
        int r = outShape.Length;
        var outStride = Shapes.Strides(outShape);
        int rows = outShape[q], cols = outShape[r - 1]; // plane: output rows × output columns
        int rowStride = outStride[q], colStride = inStride[r - 1]; // source stride of a row is 1
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
            for (int c0 = 0; c0 < cols; c0 += Tile)
            {
                int c1 = Math.Min(cols, c0 + Tile);
                for (int row = r0; row < r1; row++)
                {
                    int s = sBase + row + c0 * colStride, o = dBase + row * rowStride;
                    for (int c = c0; c < c1; c++, s += colStride) dst[o + c] = src[s];
                }
            }
        }
        int tasks = planes * rowTiles;
        long total = (long)planes * rows * cols;
        if (total < Elementwise.ParallelThreshold) { for (int t = 0; t < tasks; t++) Task(t); return; }
        int perTask = Math.Max(1, TaskWork / (Tile * cols));
        Threading.Chunks(tasks, perTask, (s, e) => { for (int t = s; t < e; t++) Task(t); });
    }
}
