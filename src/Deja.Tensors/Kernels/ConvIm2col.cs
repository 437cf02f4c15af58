using System.Runtime.CompilerServices;

namespace Deja.Tensors.Kernels;

/// <summary>
/// conv2d for small outputs with many channels (<see cref="ConvGeometry.Im2col"/>): the columns of
/// every output pixel of the batch, rows ordered (channel, tap) to match the weight's [O, C·T]
/// layout, so each direction is one GEMM with the weight used in place:
///   forward  out [O, N·P]   = w · cols
///   input    dcols          = wᵀ · g, then added back onto the phase planes (col2im)
///   weight   dw [O, C·T]    = g · colsᵀ
/// where P = Ho·Wo and g is the output gradient as [O, N·P]. The columns are gathered from the
/// phase planes of <see cref="ConvLayout.PackInput"/>, leaving out the junk columns.
/// </summary>
internal static unsafe class ConvIm2col
{
    const MethodImplOptions Hot = MethodImplOptions.AggressiveOptimization;
    const string Op = "conv2d";

    public static void Forward(ConvGeometry g, float* x, float* w, float* bias, float* y)
    {
        using var scratch = new PinnedScratch();
        int cols = (int)g.Im2colColumns, depth = g.C * g.Taps;
        float* cb = Columns(g, x, scratch);
        if (g.N == 1)
        {
            // one image: [O, P] is the output layout; the bias goes in first and the GEMM adds to it
            if (bias != null) FillRows(y, g.O, cols, bias);
            Gemm.Sgemm(false, false, g.O, cols, depth, 1f, w, depth, cb, cols, bias != null ? 1f : 0f, y, cols);
            return;
        }
        float* ob = scratch.Rent((long)g.O * cols, Op);
        Gemm.Sgemm(false, false, g.O, cols, depth, 1f, w, depth, cb, cols, 0f, ob, cols);
        ToImages(g, ob, bias, y);
    }

    public static void InputGrad(ConvGeometry g, float* gy, float* w, float* dx)
    {
        using var scratch = new PinnedScratch();
        int cols = (int)g.Im2colColumns, depth = g.C * g.Taps;
        float* gb = g.N == 1 ? gy : FromImages(g, gy, scratch);
        float* cb = scratch.Rent((long)depth * cols, Op);
        Gemm.Sgemm(true, false, depth, cols, g.O, 1f, w, depth, gb, cols, 0f, cb, cols);
        float* ds = g.DirectInput ? dx : scratch.Rent(g.PhaseLength, Op);
        ConvLayout.Clear(ds, g.DirectInput ? (long)g.C * g.InputPlane : g.PhaseLength);
        ScatterAddColumns(g, cb, ds);
        if (!g.DirectInput) ConvLayout.UnpackInputGrad(g, ds, 0, g.N, dx);
    }

    public static void WeightGrad(ConvGeometry g, float* gy, float* x, float* dw)
    {
        using var scratch = new PinnedScratch();
        int cols = (int)g.Im2colColumns, depth = g.C * g.Taps;
        float* cb = Columns(g, x, scratch);
        float* gb = g.N == 1 ? gy : FromImages(g, gy, scratch);
        Gemm.Sgemm(false, true, g.O, depth, cols, 1f, gb, cols, cb, cols, 0f, dw, depth);
    }

    /// <summary>The [C·T, N·P] column matrix of x.</summary>
    static float* Columns(ConvGeometry g, float* x, PinnedScratch scratch)
    {
        float* phase = x;
        if (!g.DirectInput)
        {
            phase = scratch.Rent(g.PhaseLength, Op);
            ConvLayout.PackInput(g, x, 0, g.N, phase);
        }
        float* cb = scratch.Rent((long)g.C * g.Taps * g.Im2colColumns, Op);
        GatherColumns(g, phase, cb);
        return cb;
    }

    /// <summary>Row c·T + t, column n·P + y·Wo + x = tap t's input for output (n, y, x) of channel c.</summary>
    static void GatherColumns(ConvGeometry g, float* phase, float* cb)
    {
        nint Ph = (nint)phase, Cb = (nint)cb;
        long cols = g.Im2colColumns;
        Threading.For(g.C, [MethodImpl(Hot)] (c) =>
        {
            for (int t = 0; t < g.Taps; t++)
            {
                float* src = (float*)Ph + g.TapOffset(t) + (long)c * g.Ld;
                float* dst = (float*)Cb + ((long)c * g.Taps + t) * cols;
                for (int img = 0; img < g.N; img++)
                    for (int yy = 0; yy < g.Ho; yy++)
                        Buffer.MemoryCopy(src + (long)img * g.Plane + (long)yy * g.Wq,
                            dst + (long)img * g.OutputPlane + (long)yy * g.Wo, g.Wo * 4L, g.Wo * 4L);
            }
        });
    }

    /// <summary>The adjoint of <see cref="GatherColumns"/> (col2im): each channel adds its taps in order.</summary>
    static void ScatterAddColumns(ConvGeometry g, float* cb, float* phase)
    {
        nint Ph = (nint)phase, Cb = (nint)cb;
        long cols = g.Im2colColumns;
        Threading.For(g.C, [MethodImpl(Hot)] (c) =>
        {
            for (int t = 0; t < g.Taps; t++)
            {
                float* dst = (float*)Ph + g.TapOffset(t) + (long)c * g.Ld;
                float* src = (float*)Cb + ((long)c * g.Taps + t) * cols;
                for (int img = 0; img < g.N; img++)
                    for (int yy = 0; yy < g.Ho; yy++)
                        ConvLayout.AddInto(src + (long)img * g.OutputPlane + (long)yy * g.Wo,
                            dst + (long)img * g.Plane + (long)yy * g.Wq, g.Wo);
            }
        });
    }

    /// <summary>[O, N·P] + bias → y [N, O, P].</summary>
    static void ToImages(ConvGeometry g, float* ob, float* bias, float* y)
    {
        nint Ob = (nint)ob, B = (nint)bias, Y = (nint)y;
        long cols = g.Im2colColumns;
        int p = g.OutputPlane;
        Threading.For(g.O, [MethodImpl(Hot)] (o) =>
        {
            float b = B == 0 ? 0f : ((float*)B)[o];
            for (int img = 0; img < g.N; img++)
            {
                float* src = (float*)Ob + o * cols + (long)img * p, dst = (float*)Y + ((long)img * g.O + o) * p;
                if (B == 0) Buffer.MemoryCopy(src, dst, p * 4L, p * 4L);
                else ConvLayout.AddScalar(src, b, dst, p);
            }
        });
    }

    /// <summary>gy [N, O, P] → [O, N·P].</summary>
    static float* FromImages(ConvGeometry g, float* gy, PinnedScratch scratch)
    {
        long cols = g.Im2colColumns;
        int p = g.OutputPlane;
        float* gb = scratch.Rent(g.O * cols, Op);
        nint G = (nint)gy, Gb = (nint)gb;
        Threading.For(g.O, [MethodImpl(Hot)] (o) =>
        {
            for (int img = 0; img < g.N; img++)
                Buffer.MemoryCopy((float*)G + ((long)img * g.O + o) * p, (float*)Gb + o * cols + (long)img * p, p * 4L, p * 4L);
        });
        return gb;
    }

    static void FillRows(float* y, int rows, int length, float* bias)
    {
        nint Y = (nint)y, B = (nint)bias;
        Threading.For(rows, [MethodImpl(Hot)] (r) => new Span<float>((float*)Y + (long)r * length, length).Fill(((float*)B)[r]));
    }
}
