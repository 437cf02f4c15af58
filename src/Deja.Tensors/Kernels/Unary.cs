using System.Numerics;
using System.Numerics.Tensors;

namespace Deja.Tensors.Kernels;

/// <summary>A kernel from a span of inputs to a span of outputs of the same length (may be the same memory).</summary>
public delegate void SpanMap(ReadOnlySpan<float> x, Span<float> y);

/// <summary>Elementwise unary kernels: the fixed-chunk parallel driver and the activations that take several passes.</summary>
public static class Unary
{
    /// <summary>Chunk length for parallel work: a multiple of 16 (the erf block) that fits in L2 with its output.</summary>
    public const int Chunk = 1 << 15;

    /// <summary>Runs <paramref name="kernel"/> over n elements, in parallel fixed-size chunks when large.</summary>
    public static void Map(float[] src, int srcOffset, float[] dst, int dstOffset, int n, SpanMap kernel)
    {
        if (n < Elementwise.ParallelThreshold) { kernel(src.AsSpan(srcOffset, n), dst.AsSpan(dstOffset, n)); return; }
        Threading.Chunks(n, Chunk, (s, e) => kernel(src.AsSpan(srcOffset + s, e - s), dst.AsSpan(dstOffset + s, e - s)));
    }

    public static void Silu(ReadOnlySpan<float> x, Span<float> y)
    {
        TensorPrimitives.Sigmoid(x, y);
        TensorPrimitives.Multiply(x, y, y);
    }

    /// <summary>x·σ(1.702x) (CLIP's QuickGELU).</summary>
    public static void QuickGelu(ReadOnlySpan<float> x, Span<float> y)
    {
        TensorPrimitives.Multiply(x, QuickGeluScale, y);
        TensorPrimitives.Sigmoid(y, y);
        TensorPrimitives.Multiply(x, y, y);
    }

    public const float QuickGeluScale = 1.702f;
    /// <summary>√(2/π) and the cubic coefficient of the tanh approximation of GELU.</summary>
    public const float GeluTanhK = 0.7978845608028654f, GeluTanhC = 0.044715f;

    /// <summary>
    /// 0.5·x·(1 + tanh(k(x + c·x³))), evaluated as x·σ(2k(x + c·x³)) (the same function, since
    /// (1 + tanh z)/2 = σ(2z)), which avoids the cancellation in 1 + tanh for negative x.
    /// </summary>
    public static void GeluTanh(ReadOnlySpan<float> x, Span<float> y)
    {
        TensorPrimitives.Multiply(x, x, y);
        TensorPrimitives.Multiply(y, 2 * GeluTanhK * GeluTanhC, y);
        TensorPrimitives.Add(y, 2 * GeluTanhK, y);
        TensorPrimitives.Multiply(y, x, y);
        TensorPrimitives.Sigmoid(y, y);
        TensorPrimitives.Multiply(x, y, y);
    }

    /// <summary>1 where lo ≤ x ≤ hi, else 0 (NaN gives 0).</summary>
    public static void RangeMask(ReadOnlySpan<float> x, Span<float> y, float lo, float hi)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var vlo = new Vector<float>(lo); var vhi = new Vector<float>(hi);
            for (; i + Vector<float>.Count <= x.Length; i += Vector<float>.Count)
            {
                var v = new Vector<float>(x.Slice(i, Vector<float>.Count));
                var inside = Vector.GreaterThanOrEqual(v, vlo) & Vector.LessThanOrEqual(v, vhi);
                Vector.ConditionalSelect(inside, Vector<float>.One, Vector<float>.Zero).CopyTo(y.Slice(i, Vector<float>.Count));
            }
        }
        for (; i < x.Length; i++) y[i] = x[i] >= lo && x[i] <= hi ? 1f : 0f;
    }

    /// <summary>1 where x &gt; 0, else 0.</summary>
    public static void PositiveMask(ReadOnlySpan<float> x, Span<float> y)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
            for (; i + Vector<float>.Count <= x.Length; i += Vector<float>.Count)
            {
                var v = new Vector<float>(x.Slice(i, Vector<float>.Count));
                Vector.ConditionalSelect(Vector.GreaterThan(v, Vector<float>.Zero), Vector<float>.One, Vector<float>.Zero)
                    .CopyTo(y.Slice(i, Vector<float>.Count));
            }
        for (; i < x.Length; i++) y[i] = x[i] > 0 ? 1f : 0f;
    }

    /// <summary>−1, 0 or 1 by the sign of x (0 for ±0 and NaN).</summary>
    public static void Sign(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++) y[i] = x[i] > 0 ? 1f : x[i] < 0 ? -1f : 0f;
    }
}
