using System.Numerics.Tensors;

namespace Deja.Tensors.Kernels;

/// <summary>
/// Reductions over a contiguous [outer, reduce, inner] block into [outer, inner].
/// Work is split into tasks whose boundaries depend only on the shape — rows, fixed column chunks,
/// fixed row blocks — and partial results are combined in index order, so the results are identical
/// for any thread count.
/// </summary>
[System.Runtime.CompilerServices.SkipLocalsInit]
public static class Reduce
{
    /// <summary>Columns per task when inner &gt; 1; the scratch for one chunk lives on the stack.</summary>
    const int ColumnChunk = 2048;
    /// <summary>Rows longer than this are reduced in blocks of this many (a multiple of the pairwise block), in parallel.</summary>
    const int RowBlock = 1 << 16;
    /// <summary>Elements per parallel task (roughly).</summary>
    const int TaskWork = 1 << 15;
    /// <summary>When summing columns, this many steps are added into a separate partial before it joins the total, so
    /// rounding error grows like reduce/Group + Group instead of like reduce.</summary>
    const int Group = 64;

    delegate float RowFn(int row, ReadOnlySpan<float> block);
    delegate float CombineFn(ReadOnlySpan<float> partials);
    delegate void ColumnFn(ReadOnlySpan<float> first, int stride, int reduce, Span<float> dst);

    // ------------------------------------------------------------------ sum

    /// <summary>Sums a contiguous tensor of <paramref name="shape"/> over the dims marked in <paramref name="reduced"/>.</summary>
    public static void Sum(float[] src, int srcOffset, int[] shape, bool[] reduced, float[] dst, int dstOffset)
    {
        int r = shape.Length;
        int outCount = 1;
        for (int i = 0; i < r; i++) if (!reduced[i]) outCount *= shape[i];
        if (outCount == 0) return;
        if (Shapes.Numel(shape) == 0) { dst.AsSpan(dstOffset, outCount).Clear(); return; }

        // Runs of adjacent reduced dims (size-1 dims join any run); each run is one [outer, reduce, inner] pass.
        var runs = new List<(int Start, int End, int Reduce)>();
        for (int i = 0; i < r;)
        {
            if (!reduced[i] || shape[i] == 1) { i++; continue; }
            int j = i, red = 1;
            while (j < r && (reduced[j] || shape[j] == 1)) red *= shape[j++];
            runs.Add((i, j, red));
            i = j;
        }
        if (runs.Count == 0) { src.AsSpan(srcOffset, outCount).CopyTo(dst.AsSpan(dstOffset, outCount)); return; }
        // The run that shrinks the data most goes first, so later passes read less.
        runs.Sort((a, b) => a.Reduce != b.Reduce ? b.Reduce.CompareTo(a.Reduce) : a.Start.CompareTo(b.Start));

        var cur = (int[])shape.Clone();
        float[] buf = src;
        int off = srcOffset;
        float[]? rented = null;
        for (int k = 0; k < runs.Count; k++)
        {
            var (start, end, red) = runs[k];
            int outer = 1, inner = 1;
            for (int i = 0; i < start; i++) outer *= cur[i];
            for (int i = end; i < r; i++) inner *= cur[i];
            for (int i = start; i < end; i++) cur[i] = 1;
            bool last = k == runs.Count - 1;
            float[] next = last ? dst : BufferPool.Rent(outer * inner);
            int nextOff = last ? dstOffset : 0;
            SumMiddle(buf, off, next, nextOff, outer, red, inner);
            if (rented is not null) BufferPool.Return(rented);
            rented = last ? null : next;
            buf = next;
            off = nextOff;
        }
    }

    /// <summary>Sum over the middle axis of [outer, reduce, inner].</summary>
    public static void SumMiddle(float[] src, int srcOffset, float[] dst, int dstOffset, int outer, int reduce, int inner)
    {
        if (reduce == 0) { dst.AsSpan(dstOffset, outer * inner).Clear(); return; }
        if (inner == 1) Rows(src, srcOffset, dst, dstOffset, outer, reduce, static (_, b) => Elementwise.PairwiseSum(b), Elementwise.PairwiseSum);
        else Columns(src, srcOffset, dst, dstOffset, outer, reduce, inner, SumColumns);
    }

    static void SumColumns(ReadOnlySpan<float> x, int stride, int reduce, Span<float> dst)
    {
        int w = dst.Length;
        x[..w].CopyTo(dst);
        if (reduce <= Group)
        {
            for (int k = 1; k < reduce; k++) TensorPrimitives.Add(dst, x.Slice(k * stride, w), dst);
            return;
        }
        for (int k = 1; k < Group; k++) TensorPrimitives.Add(dst, x.Slice(k * stride, w), dst);
        Span<float> part = stackalloc float[w];
        for (int k0 = Group; k0 < reduce; k0 += Group)
        {
            int k1 = Math.Min(reduce, k0 + Group);
            x.Slice(k0 * stride, w).CopyTo(part);
            for (int k = k0 + 1; k < k1; k++) TensorPrimitives.Add(part, x.Slice(k * stride, w), part);
            TensorPrimitives.Add(dst, part, dst);
        }
    }

    // ------------------------------------------------------------------ max / min

    /// <summary>Max (or min) over the middle axis; NaN propagates. <paramref name="reduce"/> must be positive.</summary>
    public static void Extreme(float[] src, int srcOffset, float[] dst, int dstOffset, int outer, int reduce, int inner, bool max)
    {
        if (inner == 1)
        {
            if (max) Rows(src, srcOffset, dst, dstOffset, outer, reduce, static (_, b) => TensorPrimitives.Max(b), static p => TensorPrimitives.Max(p));
            else Rows(src, srcOffset, dst, dstOffset, outer, reduce, static (_, b) => TensorPrimitives.Min(b), static p => TensorPrimitives.Min(p));
            return;
        }
        Columns(src, srcOffset, dst, dstOffset, outer, reduce, inner, max ? MaxColumns : MinColumns);
    }

    static void MaxColumns(ReadOnlySpan<float> x, int stride, int reduce, Span<float> dst)
    {
        x[..dst.Length].CopyTo(dst);
        for (int k = 1; k < reduce; k++) TensorPrimitives.Max(dst, x.Slice(k * stride, dst.Length), dst);
    }

    static void MinColumns(ReadOnlySpan<float> x, int stride, int reduce, Span<float> dst)
    {
        x[..dst.Length].CopyTo(dst);
        for (int k = 1; k < reduce; k++) TensorPrimitives.Min(dst, x.Slice(k * stride, dst.Length), dst);
    }

    /// <summary>
    /// mask = 1 at the first position along the middle axis whose value equals <paramref name="values"/>
    /// (NaN matches NaN), 0 elsewhere: where the gradient of a max or min goes.
    /// </summary>
    public static void FirstMatchMask(float[] src, int srcOffset, float[] values, int valuesOffset, float[] mask, int maskOffset,
        int outer, int reduce, int inner)
    {
        int n = outer * reduce * inner;
        mask.AsSpan(maskOffset, n).Clear();
        int rowsPerTask = Math.Max(1, TaskWork / Math.Max(1, reduce * inner));
        void Task(int s, int e)
        {
            for (int i = s; i < e; i++)
                for (int j = 0; j < inner; j++)
                {
                    float v = values[valuesOffset + i * inner + j];
                    int baseIdx = i * reduce * inner + j;
                    for (int k = 0; k < reduce; k++)
                        if (src[srcOffset + baseIdx + k * inner].Equals(v)) { mask[maskOffset + baseIdx + k * inner] = 1f; break; }
                }
        }
        if (n < Elementwise.ParallelThreshold) Task(0, outer);
        else Threading.Chunks(outer, rowsPerTask, Task);
    }

    // ------------------------------------------------------------------ logsumexp

    /// <summary>
    /// log Σ exp over the middle axis, shifted by the maximum for stability (a shift of 0 when the
    /// maximum is infinite, so all −∞ gives −∞ and any +∞ gives +∞, as in PyTorch).
    /// </summary>
    public static void LogSumExp(float[] src, int srcOffset, float[] dst, int dstOffset, int outer, int reduce, int inner)
    {
        if (reduce == 0) { dst.AsSpan(dstOffset, outer * inner).Fill(float.NegativeInfinity); return; }
        if (inner == 1)
        {
            var shift = new float[outer];
            Rows(src, srcOffset, shift, 0, outer, reduce, static (_, b) => TensorPrimitives.Max(b), static p => TensorPrimitives.Max(p));
            for (int i = 0; i < outer; i++) if (float.IsInfinity(shift[i])) shift[i] = 0;
            Rows(src, srcOffset, dst, dstOffset, outer, reduce, (row, b) => SumExp(b, shift[row]), Elementwise.PairwiseSum);
            for (int i = 0; i < outer; i++) dst[dstOffset + i] = shift[i] + MathF.Log(dst[dstOffset + i]);
            return;
        }
        Columns(src, srcOffset, dst, dstOffset, outer, reduce, inner, LogSumExpColumns);
    }

    /// <summary>Σ exp(x − shift), in stack-sized pieces added in order.</summary>
    static float SumExp(ReadOnlySpan<float> x, float shift)
    {
        Span<float> tmp = stackalloc float[1024];
        float total = 0;
        for (int s = 0; s < x.Length; s += tmp.Length)
        {
            var piece = tmp[..Math.Min(tmp.Length, x.Length - s)];
            TensorPrimitives.Subtract(x.Slice(s, piece.Length), shift, piece);
            TensorPrimitives.Exp(piece, piece);
            total += TensorPrimitives.Sum(piece);
        }
        return total;
    }

    static void LogSumExpColumns(ReadOnlySpan<float> x, int stride, int reduce, Span<float> dst)
    {
        int w = dst.Length;
        Span<float> shift = stackalloc float[w];
        Span<float> term = stackalloc float[w];
        MaxColumns(x, stride, reduce, shift);
        for (int j = 0; j < w; j++) if (float.IsInfinity(shift[j])) shift[j] = 0;
        dst.Clear();
        for (int k = 0; k < reduce; k++)
        {
            TensorPrimitives.Subtract(x.Slice(k * stride, w), shift, term);
            TensorPrimitives.Exp(term, term);
            TensorPrimitives.Add(dst, term, dst);
        }
        TensorPrimitives.Log(dst, dst);
        TensorPrimitives.Add(dst, shift, dst);
    }

    // ------------------------------------------------------------------ drivers

    /// <summary>inner == 1: dst[i] = f(row i). Long rows go in fixed blocks whose results <paramref name="combine"/> joins in order.</summary>
    static void Rows(float[] src, int srcOffset, float[] dst, int dstOffset, int outer, int reduce, RowFn f, CombineFn combine)
    {
        if (reduce <= RowBlock)
        {
            void Task(int s, int e)
            {
                for (int i = s; i < e; i++) dst[dstOffset + i] = f(i, src.AsSpan(srcOffset + i * reduce, reduce));
            }
            if ((long)outer * reduce < Elementwise.ParallelThreshold) Task(0, outer);
            else Threading.Chunks(outer, Math.Max(1, TaskWork / reduce), Task);
            return;
        }
        int blocks = (reduce + RowBlock - 1) / RowBlock;
        var partials = new float[outer * blocks];
        Threading.For(outer * blocks, t =>
        {
            int i = t / blocks, b = t % blocks;
            int start = b * RowBlock, len = Math.Min(RowBlock, reduce - start);
            partials[t] = f(i, src.AsSpan(srcOffset + i * reduce + start, len));
        });
        for (int i = 0; i < outer; i++) dst[dstOffset + i] = combine(partials.AsSpan(i * blocks, blocks));
    }

    /// <summary>inner &gt; 1: one task per (outer row, fixed chunk of columns); each column reduces in index order.</summary>
    static void Columns(float[] src, int srcOffset, float[] dst, int dstOffset, int outer, int reduce, int inner, ColumnFn f)
    {
        int chunks = (inner + ColumnChunk - 1) / ColumnChunk;
        void Task(int t)
        {
            int i = t / chunks, j0 = t % chunks * ColumnChunk, w = Math.Min(ColumnChunk, inner - j0);
            f(src.AsSpan(srcOffset + i * reduce * inner + j0), inner, reduce, dst.AsSpan(dstOffset + i * inner + j0, w));
        }
        int tasks = outer * chunks;
        if ((long)outer * reduce * inner < Elementwise.ParallelThreshold) { for (int t = 0; t < tasks; t++) Task(t); return; }
        int perTask = Math.Max(1, TaskWork / Math.Max(1, reduce * Math.Min(inner, ColumnChunk)));
        Threading.Chunks(tasks, perTask, (s, e) => { for (int t = s; t < e; t++) Task(t); });
    }
}
