using System.Numerics.Tensors;

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
    /// <summary>Input images n0.. (NCHW at <paramref name="x"/>) → zero-padded phase planes.</summary>
    public static void PackInput(ConvGeometry g, float* x, int n0, int images, float* phase)
    {
        nint X = (nint)x, P = (nint)phase;
        Threading.For(g.Phases * g.C, row =>
        {
            int ph = row / g.C, c = row % g.C;
            int ry = ph / g.PhasesX, rx = ph % g.PhasesX, s = g.Stride;
            // plane columns j whose source column s·j + rx − pad lies inside the image
            int j0 = Math.Min(g.Wq, CeilDiv(Math.Max(0, g.Pad - rx), s));
            int j1 = Math.Max(j0, Math.Min(g.Wq, CeilDiv(g.W + g.Pad - rx, s)));
            for (int img = 0; img < images; img++)
            {
                float* src = (float*)X + ((long)(n0 + img) * g.C + c) * g.InputPlane;
                float* dst = (float*)P + (long)row * g.Ld + (long)img * g.Plane;
                for (int i = 0; i < g.Hq; i++)
                {
                    float* d = dst + (long)i * g.Wq;
                    int iy = s * i + ry - g.Pad;
                    if (iy < 0 || iy >= g.H) { new Span<float>(d, g.Wq).Clear(); continue; }
                    float* srow = src + (long)iy * g.W + (s * j0 + rx - g.Pad);
                    new Span<float>(d, j0).Clear();
                    if (s == 1) Buffer.MemoryCopy(srow, d + j0, (j1 - j0) * 4L, (j1 - j0) * 4L);
                    else for (int j = j0; j < j1; j++, srow += s) d[j] = *srow;
                    new Span<float>(d + j1, g.Wq - j1).Clear();
                }
            }
        });
    }

    /// <summary>Phase-plane gradient → input gradient (NCHW) of images n0... Padding is dropped;
    /// pixels no tap reads (kernel smaller than the stride) get zero.</summary>
    public static void UnpackInputGrad(ConvGeometry g, float* phase, int n0, int images, float* dx)
    {
        nint P = (nint)phase, D = (nint)dx;
        int s = g.Stride;
        Threading.For(g.C, c =>
        {
            for (int img = 0; img < images; img++)
            {
                float* dst = (float*)D + ((long)(n0 + img) * g.C + c) * g.InputPlane;
                for (int iy = 0; iy < g.H; iy++)
                {
                    float* d = dst + (long)iy * g.W;
                    int py = iy + g.Pad, ry = py % s;
                    if (ry >= g.PhasesY) { new Span<float>(d, g.W).Clear(); continue; }
                    float* rowBase = (float*)P + (long)c * g.Ld + (long)img * g.Plane + (long)(py / s) * g.Wq;
                    if (s == 1) { Buffer.MemoryCopy(rowBase + g.Pad, d, g.W * 4L, g.W * 4L); continue; }
                    for (int ix = 0; ix < g.W; ix++)
                    {
                        int px = ix + g.Pad, rx = px % s;
                        d[ix] = rx >= g.PhasesX ? 0f
                            : rowBase[(long)(ry * g.PhasesX + rx) * g.C * g.Ld + px / s];
                    }
                }
            }
        });
    }

    /// <summary>Wide output rows → NCHW output of images n0.., adding the bias on the way.</summary>
    public static void CompactOutput(ConvGeometry g, float* wide, int n0, int images, float* bias, float* y)
    {
        nint Wd = (nint)wide, Y = (nint)y, B = (nint)bias;
        Threading.For(g.O, o =>
        {
            float b = B == 0 ? 0f : ((float*)B)[o];
            for (int img = 0; img < images; img++)
            {
                float* src = (float*)Wd + (long)o * g.Ld + (long)img * g.Plane;
                float* dst = (float*)Y + ((long)(n0 + img) * g.O + o) * g.OutputPlane;
                for (int yy = 0; yy < g.Ho; yy++)
                {
                    var s = new ReadOnlySpan<float>(src + (long)yy * g.Wq, g.Wo);
                    var d = new Span<float>(dst + (long)yy * g.Wo, g.Wo);
                    if (B == 0) s.CopyTo(d); else TensorPrimitives.Add(s, b, d);
                }
            }
        });
    }

    /// <summary>Output gradient (NCHW) of images n0.. → wide rows with zeros in the junk columns
    /// (they multiply real inputs in the backward GEMMs).</summary>
    public static void WidenGrad(ConvGeometry g, float* gy, int n0, int images, float* wide)
    {
        nint G = (nint)gy, Wd = (nint)wide;
        Threading.For(g.O, o =>
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

    /// <summary>Stacks the shifted operands of taps t0..t1 as rows (t − t0)·C + c, <paramref name="cols"/> wide.</summary>
    public static void GatherTaps(ConvGeometry g, float* phase, int t0, int t1, int cols, float* dst)
    {
        nint P = (nint)phase, D = (nint)dst;
        Threading.For((t1 - t0) * g.C, row =>
        {
            int t = t0 + row / g.C, c = row % g.C;
            float* src = (float*)P + g.TapOffset(t) + (long)c * g.Ld;
            Buffer.MemoryCopy(src, (float*)D + (long)row * cols, cols * 4L, cols * 4L);
        });
    }

    /// <summary>The adjoint of <see cref="GatherTaps"/>: adds each stacked row back onto its shifted
    /// place. Per channel the taps are added in order, so the sums are deterministic.</summary>
    public static void ScatterAddTaps(ConvGeometry g, float* src, int t0, int t1, int cols, float* phase)
    {
        nint S = (nint)src, P = (nint)phase;
        Threading.For(g.C, c =>
        {
            for (int t = t0; t < t1; t++)
            {
                var d = new Span<float>((float*)P + g.TapOffset(t) + (long)c * g.Ld, cols);
                var s = new ReadOnlySpan<float>((float*)S + ((long)(t - t0) * g.C + c) * cols, cols);
                TensorPrimitives.Add(d, s, d);
            }
        });
    }

    /// <summary>[O, C, T] → [O, T, C], so a tap (or a run of taps) is a strided block of columns.</summary>
    public static void WeightToTapMajor(float* w, int o, int c, int taps, float* dst)
    {
        nint Wp = (nint)w, D = (nint)dst;
        Threading.For(o, oi =>
        {
            float* s = (float*)Wp + (long)oi * c * taps, d = (float*)D + (long)oi * c * taps;
            for (int ci = 0; ci < c; ci++)
                for (int t = 0; t < taps; t++) d[t * c + ci] = s[ci * taps + t];
        });
    }

    /// <summary>[O, T, C] → [O, C, T].</summary>
    public static void WeightFromTapMajor(float* src, int o, int c, int taps, float* w)
    {
        nint S = (nint)src, Wp = (nint)w;
        Threading.For(o, oi =>
        {
            float* s = (float*)S + (long)oi * c * taps, d = (float*)Wp + (long)oi * c * taps;
            for (int ci = 0; ci < c; ci++)
                for (int t = 0; t < taps; t++) d[ci * taps + t] = s[t * c + ci];
        });
    }

    /// <summary>Clears <paramref name="length"/> floats in parallel blocks.</summary>
    public static void Clear(float* p, long length)
    {
        const int Block = 1 << 16;
        nint P = (nint)p;
        int blocks = (int)((length + Block - 1) / Block);
        Threading.For(blocks, b =>
        {
            long start = (long)b * Block;
            new Span<float>((float*)P + start, (int)Math.Min(Block, length - start)).Clear();
        });
    }

    static int CeilDiv(int a, int b) => (a + b - 1) / b;
}
