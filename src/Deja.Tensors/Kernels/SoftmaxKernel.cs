using System.Numerics.Tensors;

namespace Deja.Tensors.Kernels;

/// <summary>
/// Softmax and log-softmax over the middle axis of a contiguous [outer, n, inner] block, shifted by
/// the maximum for stability. Rows (inner == 1) or fixed column chunks (inner &gt; 1) are independent
/// tasks, so the results do not depend on the thread count.
/// </summary>
[System.Runtime.CompilerServices.SkipLocalsInit]
public static class SoftmaxKernel
{
    const int ColumnChunk = 1024;
    const int TaskWork = 1 << 15;

    public static void Apply(float[] src, int srcOffset, float[] dst, int dstOffset, int outer, int n, int inner, bool log)
    {
        if (outer == 0 || n == 0 || inner == 0) return;
        long total = (long)outer * n * inner;
        if (inner == 1)
        {
            void RowTask(int s, int e)
            {
                for (int i = s; i < e; i++) Row(src.AsSpan(srcOffset + i * n, n), dst.AsSpan(dstOffset + i * n, n), log);
            }
            if (total < Elementwise.ParallelThreshold) RowTask(0, outer);
            else Threading.Chunks(outer, Math.Max(1, TaskWork / n), RowTask);
            return;
        }
        int chunks = (inner + ColumnChunk - 1) / ColumnChunk;
        void Task(int t)
        {
            int i = t / chunks, j0 = t % chunks * ColumnChunk, w = Math.Min(ColumnChunk, inner - j0);
            int at = i * n * inner + j0;
            Columns(src.AsSpan(srcOffset + at), dst.AsSpan(dstOffset + at), n, inner, w, log);
        }
        int tasks = outer * chunks;
        if (total < Elementwise.ParallelThreshold) { for (int t = 0; t < tasks; t++) Task(t); return; }
        int perTask = Math.Max(1, TaskWork / (n * Math.Min(inner, ColumnChunk)));
        Threading.Chunks(tasks, perTask, (s, e) => { for (int t = s; t < e; t++) Task(t); });
    }

    static void Row(ReadOnlySpan<float> x, Span<float> y, bool log)
    {
        float max = TensorPrimitives.Max(x);
        TensorPrimitives.Subtract(x, max, y);
        TensorPrimitives.Exp(y, y);
        float sum = Elementwise.PairwiseSum(y);
        if (log)
        {
            // (x − max) − log Σ, in that order: x − (max + log Σ) would round at the magnitude of max.
            TensorPrimitives.Subtract(x, max, y);
            TensorPrimitives.Subtract(y, MathF.Log(sum), y);
        }
        else TensorPrimitives.Multiply(y, 1f / sum, y);
    }

    /// <summary><paramref name="w"/> columns of stride <paramref name="stride"/>, each normalized over its n entries.</summary>
    static void Columns(ReadOnlySpan<float> x, Span<float> y, int n, int stride, int w, bool log)
    {
        Span<float> max = stackalloc float[w];
        Span<float> sum = stackalloc float[w];
        x[..w].CopyTo(max);
        for (int k = 1; k < n; k++) TensorPrimitives.Max(max, x.Slice(k * stride, w), max);
        sum.Clear();
        for (int k = 0; k < n; k++)
        {
            var yk = y.Slice(k * stride, w);
            TensorPrimitives.Subtract(x.Slice(k * stride, w), max, yk);
            TensorPrimitives.Exp(yk, yk);
            TensorPrimitives.Add(sum, yk, sum);
        }
        if (log)
        {
            // log-softmax = (x − max) − log Σ
            TensorPrimitives.Log(sum, sum);
            for (int k = 0; k < n; k++)
            {
                var yk = y.Slice(k * stride, w);
                TensorPrimitives.Subtract(x.Slice(k * stride, w), max, yk);
                TensorPrimitives.Subtract(yk, sum, yk);
            }
        }
        else
        {
            TensorPrimitives.Reciprocal(sum, sum);
            for (int k = 0; k < n; k++) TensorPrimitives.Multiply(y.Slice(k * stride, w), sum, y.Slice(k * stride, w));
        }
    }
}
