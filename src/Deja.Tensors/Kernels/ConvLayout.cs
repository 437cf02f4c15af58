using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Deja.Tensors.Kernels;

/// <summary>
/// The memory passes around the conv GEMMs (see <see cref="ConvGeometry"/> for the layouts): packing
/// the input into phase planes, compacting wide outputs, widening gradients, and the weight reorder.
/// Each runs in parallel over channels; no element is written by two tasks, so results never depend
/// on the thread count. Pointers are passed to the parallel bodies as nint (lambdas cannot capture
/// pointers); the caller keeps the arrays pinned.
/// </summary>
internal static unsafe class ConvLayout
{
    // kernels are compiled fully optimized at once: tier-0 code would distort the first calls
    const MethodImplOptions Hot = MethodImplOptions.AggressiveOptimization;

    /// <summary>Input images n0.. (NCHW at <paramref name="x"/>) → zero-padded phase planes.</summary>
    public static void PackInput(ConvGeometry g, float* x, int n0, int images, float* phase)
    {
        nint X = (nint)x, P = (nint)phase;
        Threading.For(g.C, [MethodImpl(Hot)] (c) =>
        {
            // a zero-padded copy of one source row, with slack for the SIMD gathers' over-reads
            int tempLength = g.Stride == 1 ? 0 : g.Stride * (g.Wq + 1) + 32;
            float[]? temp = tempLength == 0 ? null : new float[tempLength];
            fixed (float* t = temp)
                for (int img = 0; img < images; img++)
                    PackChannel(g, (float*)X + ((long)(n0 + img) * g.C + c) * g.InputPlane,
                        (float*)P + (long)c * g.Ld + (long)img * g.Plane, t);
        });
    }

    /// <summary>One channel of one image into its phase planes (the first at <paramref name="dst"/>).</summary>
    [MethodImpl(Hot)]
    static void PackChannel(ConvGeometry g, float* src, float* dst, float* temp)
    {
        int s = g.Stride;
        long phaseStride = (long)g.C * g.Ld;
        for (int ry = 0; ry < g.PhasesY; ry++)
            for (int i = 0; i < g.Hq; i++)
            {
                int iy = s * i + ry - g.Pad;
                float* d = dst + (long)ry * g.PhasesX * phaseStride + (long)i * g.Wq;
                if (iy < 0 || iy >= g.H)
                {
                    for (int rx = 0; rx < g.PhasesX; rx++) new Span<float>(d + rx * phaseStride, g.Wq).Clear();
                    continue;
                }
                float* srow = src + (long)iy * g.W;
                if (s == 1)
                {
                    int right = Math.Max(0, g.Wq - g.Pad - g.W);
                    new Span<float>(d, g.Pad).Clear();
                    Buffer.MemoryCopy(srow, d + g.Pad, g.W * 4L, g.W * 4L);
                    new Span<float>(d + g.Pad + g.W, right).Clear();
                    continue;
                }
                // temp[0, pad) and temp[pad + W, ..) are never written, so they stay zero
                Buffer.MemoryCopy(srow, temp + g.Pad, g.W * 4L, g.W * 4L);
                for (int rx = 0; rx < g.PhasesX; rx++)
                    Strided.Gather(temp + rx, s, g.Wq, d + rx * phaseStride);
            }
    }

    /// <summary>Phase-plane gradient → input gradient (NCHW) of images n0... Padding is dropped;
    /// pixels no tap reads (kernel smaller than the stride) get zero.</summary>
    public static void UnpackInputGrad(ConvGeometry g, float* phase, int n0, int images, float* dx)
    {
        nint P = (nint)phase, D = (nint)dx;
        Threading.For(g.C, [MethodImpl(Hot)] (c) =>
        {
            // one padded input row assembled from the phases; columns of missing phases stay zero
            int tempLength = g.Stride == 1 ? 0 : g.Stride * (g.Wq + 1) + 32;
            float[]? temp = tempLength == 0 ? null : new float[tempLength];
            fixed (float* t = temp)
                for (int img = 0; img < images; img++)
                    UnpackChannel(g, (float*)P + (long)c * g.Ld + (long)img * g.Plane,
                        (float*)D + ((long)(n0 + img) * g.C + c) * g.InputPlane, t);
        });
    }

    [MethodImpl(Hot)]
    static void UnpackChannel(ConvGeometry g, float* src, float* dst, float* temp)
    {
        int s = g.Stride;
        long phaseStride = (long)g.C * g.Ld;
        for (int iy = 0; iy < g.H; iy++)
        {
            float* d = dst + (long)iy * g.W;
            int py = iy + g.Pad, ry = py % s;
            if (ry >= g.PhasesY) { new Span<float>(d, g.W).Clear(); continue; }
            float* row = src + (long)ry * g.PhasesX * phaseStride + (long)(py / s) * g.Wq;
            if (s == 1) { Buffer.MemoryCopy(row + g.Pad, d, g.W * 4L, g.W * 4L); continue; }
            if (s == 2 && g.PhasesX == 2) Strided.Interleave2(row, row + phaseStride, g.Wq, temp);
            else
                for (int rx = 0; rx < g.PhasesX; rx++) Strided.Scatter(row + rx * phaseStride, g.Wq, s, temp + rx);
            Buffer.MemoryCopy(temp + g.Pad, d, g.W * 4L, g.W * 4L);
        }
    }

    /// <summary>Wide output rows → NCHW output of images n0.., adding the bias on the way.</summary>
    public static void CompactOutput(ConvGeometry g, float* wide, int n0, int images, float* bias, float* y)
    {
        nint Wd = (nint)wide, Y = (nint)y, B = (nint)bias;
        Threading.For(g.O, [MethodImpl(Hot)] (o) =>
        {
            float b = B == 0 ? 0f : ((float*)B)[o];
            for (int img = 0; img < images; img++)
            {
                float* src = (float*)Wd + (long)o * g.Ld + (long)img * g.Plane;
                float* dst = (float*)Y + ((long)(n0 + img) * g.O + o) * g.OutputPlane;
                for (int yy = 0; yy < g.Ho; yy++)
                {
                    if (B == 0) Buffer.MemoryCopy(src + (long)yy * g.Wq, dst + (long)yy * g.Wo, g.Wo * 4L, g.Wo * 4L);
                    else AddScalar(src + (long)yy * g.Wq, b, dst + (long)yy * g.Wo, g.Wo);
                }
            }
        });
    }

    /// <summary>Output gradient (NCHW) of images n0.. → wide rows with zeros in the junk columns
    /// (they multiply real inputs in the backward GEMMs).</summary>
    public static void WidenGrad(ConvGeometry g, float* gy, int n0, int images, float* wide)
    {
        nint G = (nint)gy, Wd = (nint)wide;
        Threading.For(g.O, [MethodImpl(Hot)] (o) =>
        {
            for (int img = 0; img < images; img++)
            {
                float* src = (float*)G + ((long)(n0 + img) * g.O + o) * g.OutputPlane;
                float* dst = (float*)Wd + (long)o * g.Ld + (long)img * g.Plane;
                for (int yy = 0; yy < g.Ho; yy++)
                {
                    float* d = dst + (long)yy * g.Wq;
                    Buffer.MemoryCopy(src + (long)yy * g.Wo, d, g.Wo * 4L, g.Wo * 4L);
                    new Span<float>(d + g.Wo, g.Wq - g.Wo).Clear();
                }
                new Span<float>(dst + (long)g.Ho * g.Wq, (g.Hq - g.Ho) * g.Wq).Clear();
            }
        });
    }

    /// <summary>Stacks columns [c0, c0 + cols) of the shifted operands of taps t0..t1 as rows
    /// (t − t0)·C + c of <paramref name="cols"/> floats.</summary>
    public static void GatherTaps(ConvGeometry g, float* phase, int t0, int t1, int c0, int cols, float* dst)
    {
        nint P = (nint)phase, D = (nint)dst;
        Threading.For((t1 - t0) * g.C, [MethodImpl(Hot)] (row) =>
        {
            int t = t0 + row / g.C, c = row % g.C;
            float* src = (float*)P + g.TapOffset(t) + (long)c * g.Ld + c0;
            Buffer.MemoryCopy(src, (float*)D + (long)row * cols, cols * 4L, cols * 4L);
        });
    }

    /// <summary>The adjoint of <see cref="GatherTaps"/>: adds each stacked row back onto its shifted
    /// place. Per channel the taps are added in order, so the sums are deterministic.</summary>
    public static void ScatterAddTaps(ConvGeometry g, float* src, int t0, int t1, int c0, int cols, float* phase)
    {
        nint S = (nint)src, P = (nint)phase;
        Threading.For(g.C, [MethodImpl(Hot)] (c) =>
        {
            for (int t = t0; t < t1; t++)
            {
                AddInto((float*)S + ((long)(t - t0) * g.C + c) * cols, (float*)P + g.TapOffset(t) + (long)c * g.Ld + c0, cols);
            }
        });
    }

    /// <summary>[O, C, T] → [O, T, C], so a tap (or a run of taps) is a strided block of columns.</summary>
    public static void WeightToTapMajor(float* w, int o, int c, int taps, float* dst)
    {
        nint Wp = (nint)w, D = (nint)dst;
        Threading.For(o, [MethodImpl(Hot)] (oi) =>
        {
            float* s = (float*)Wp + (long)oi * c * taps, d = (float*)D + (long)oi * c * taps;
            // sequential writes; the strided reads stay within one output channel's block (L1)
            for (int t = 0; t < taps; t++)
                for (int ci = 0; ci < c; ci++) d[t * c + ci] = s[ci * taps + t];
        });
    }

    /// <summary>[O, T, C] → [O, C, T].</summary>
    public static void WeightFromTapMajor(float* src, int o, int c, int taps, float* w)
    {
        nint S = (nint)src, Wp = (nint)w;
        Threading.For(o, [MethodImpl(Hot)] (oi) =>
        {
            float* s = (float*)S + (long)oi * c * taps, d = (float*)Wp + (long)oi * c * taps;
            for (int ci = 0; ci < c; ci++)
                for (int t = 0; t < taps; t++) d[ci * taps + t] = s[t * c + ci];
        });
    }

    /// <summary>dst = src + b. (TensorPrimitives' per-call overhead is large for rows this short.)</summary>
    [MethodImpl(Hot)]
    internal static void AddScalar(float* src, float b, float* dst, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vb = Vector512.Create(b);
            for (; i + 16 <= n; i += 16) (Vector512.Load(src + i) + vb).Store(dst + i);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var vb = Vector256.Create(b);
            for (; i + 8 <= n; i += 8) (Vector256.Load(src + i) + vb).Store(dst + i);
        }
        for (; i < n; i++) dst[i] = src[i] + b;
    }

    /// <summary>dst += src.</summary>
    [MethodImpl(Hot)]
    internal static void AddInto(float* src, float* dst, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i + 16 <= n; i += 16) (Vector512.Load(dst + i) + Vector512.Load(src + i)).Store(dst + i);
        else if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8) (Vector256.Load(dst + i) + Vector256.Load(src + i)).Store(dst + i);
        for (; i < n; i++) dst[i] += src[i];
    }

    /// <summary>Clears <paramref name="length"/> floats in parallel blocks.</summary>
    public static void Clear(float* p, long length)
    {
        const int Block = 1 << 16;
        nint P = (nint)p;
        int blocks = (int)((length + Block - 1) / Block);
        Threading.For(blocks, [MethodImpl(Hot)] (b) =>
        {
            long start = (long)b * Block;
            new Span<float>((float*)P + start, (int)Math.Min(Block, length - start)).Clear();
        });
    }
}
