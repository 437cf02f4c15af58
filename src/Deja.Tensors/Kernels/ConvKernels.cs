using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Deja.Tensors.Kernels;

/// <summary>
/// conv2d forward and its two adjoints as a handful of GEMMs per group of images, one per tap (or
/// per run of stacked taps), over the shifted phase planes of <see cref="ConvGeometry"/>; shapes
/// that suit im2col better go to <see cref="ConvIm2col"/>. All GEMMs are called from the calling
/// thread (OpenBLAS threads them); the layout passes run in parallel over channels.
/// Weights are used as [O, T, C] (tap-major), so a run of taps is a block of columns.
/// Every sum is taken in a fixed order (taps in order, images in order), whatever the thread count.
/// </summary>
internal static unsafe class ConvKernels
{
    // kernels are compiled fully optimized at once: tier-0 code would distort the first calls
    const MethodImplOptions Hot = MethodImplOptions.AggressiveOptimization;

    /// <summary>Columns per GEMM when taps are stacked: bounds the stacked copy (taps·C rows) for
    /// large images while keeping the GEMMs wide.</summary>
    const int ColumnTile = 16384;

    /// <summary>y [N,O,Ho,Wo] = conv(x [N,C,H,W], w [O,C,Kh,Kw]) + bias (null: none).</summary>
    public static void Forward(ConvGeometry g, float* x, float* w, float* bias, float* y)
    {
        if (g.N == 0) return;
        if (g.Im2col) { ConvIm2col.Forward(g, x, w, bias, y); return; }
        using var buffers = new Scratch(g, needPhase: !g.DirectInput, needWide: !g.DirectOutput, needTapMajor: g.Taps > 1);
        float* wt = g.Taps > 1 ? buffers.TapMajor : w;
        if (g.Taps > 1) ConvLayout.WeightToTapMajor(w, g.O, g.C, g.Taps, wt);
        int depthLd = g.Taps * g.C;
        for (int n0 = 0; n0 < g.N; n0 += g.Group)
        {
            int images = Math.Min(g.Group, g.N - n0), cols = g.Columns(images);
            float* xs = g.DirectInput ? x + (long)n0 * g.C * g.InputPlane : buffers.Phase;
            if (!g.DirectInput) ConvLayout.PackInput(g, x, n0, images, xs);
            float* ys = g.DirectOutput ? y + (long)n0 * g.O * g.OutputPlane : buffers.Wide;
            int ldy = g.DirectOutput ? g.OutputPlane : g.Ld;
            bool accumulate = false;
            if (g.DirectOutput && bias != null)
            {
                // the bias is written first and the GEMM accumulates onto it: no extra pass
                nint Y = (nint)ys, B = (nint)bias;
                Threading.For(g.O, [MethodImpl(Hot)] (o) => new Span<float>((float*)Y + (long)o * ldy, cols).Fill(((float*)B)[o]));
                accumulate = true;
            }
            for (int t0 = 0; t0 < g.Taps; t0 += g.TapsPerGemm)
            {
                int t1 = Math.Min(g.Taps, t0 + g.TapsPerGemm), depth = (t1 - t0) * g.C;
                if (t1 - t0 == 1)
                    Gemm.Sgemm(false, false, g.O, cols, depth, 1f, wt + (long)t0 * g.C, depthLd, xs + g.TapOffset(t0), g.Ld,
                        accumulate ? 1f : 0f, ys, ldy);
                else
                    for (int c0 = 0; c0 < cols; c0 += ColumnTile)
                    {
                        int cn = Math.Min(ColumnTile, cols - c0);
                        ConvLayout.GatherTaps(g, xs, t0, t1, c0, cn, buffers.Columns);
                        Gemm.Sgemm(false, false, g.O, cn, depth, 1f, wt + (long)t0 * g.C, depthLd, buffers.Columns, cn,
                            accumulate ? 1f : 0f, ys + c0, ldy);
                    }
                accumulate = true;
            }
            if (!g.DirectOutput) ConvLayout.CompactOutput(g, ys, n0, images, bias, y);
        }
    }

    /// <summary>dx [N,C,H,W] = convᵀ(gy [N,O,Ho,Wo], w): the adjoint of <see cref="Forward"/> in x.</summary>
    public static void InputGrad(ConvGeometry g, float* gy, float* w, float* dx)
    {
        if (g.N == 0) return;
        if (g.Im2col) { ConvIm2col.InputGrad(g, gy, w, dx); return; }
        using var buffers = new Scratch(g, needPhase: !g.DirectInput, needWide: !g.DirectOutput, needTapMajor: g.Taps > 1);
        float* wt = g.Taps > 1 ? buffers.TapMajor : w;
        if (g.Taps > 1) ConvLayout.WeightToTapMajor(w, g.O, g.C, g.Taps, wt);
        int depthLd = g.Taps * g.C;
        // one tap covering every input pixel (1×1, stride 1, no padding) overwrites; otherwise the
        // taps' shifted ranges overlap partially and are accumulated onto zeros
        bool overwrite = g.DirectInput && g.Taps == 1;
        for (int n0 = 0; n0 < g.N; n0 += g.Group)
        {
            int images = Math.Min(g.Group, g.N - n0), cols = g.Columns(images);
            float* gs = g.DirectOutput ? gy + (long)n0 * g.O * g.OutputPlane : buffers.Wide;
            int ldg = g.DirectOutput ? g.OutputPlane : g.Ld;
            if (!g.DirectOutput) ConvLayout.WidenGrad(g, gy, n0, images, gs);
            float* ds = g.DirectInput ? dx + (long)n0 * g.C * g.InputPlane : buffers.Phase;
            if (!overwrite) ConvLayout.Clear(ds, g.DirectInput ? (long)g.C * g.InputPlane : g.PhaseLength);
            for (int t0 = 0; t0 < g.Taps; t0 += g.TapsPerGemm)
            {
                int t1 = Math.Min(g.Taps, t0 + g.TapsPerGemm), depth = (t1 - t0) * g.C;
                if (t1 - t0 == 1)
                {
                    Gemm.Sgemm(true, false, g.C, cols, g.O, 1f, wt + (long)t0 * g.C, depthLd, gs, ldg,
                        overwrite ? 0f : 1f, ds + g.TapOffset(t0), g.Ld);
                    continue;
                }
                for (int c0 = 0; c0 < cols; c0 += ColumnTile)
                {
                    int cn = Math.Min(ColumnTile, cols - c0);
                    Gemm.Sgemm(true, false, depth, cn, g.O, 1f, wt + (long)t0 * g.C, depthLd, gs + c0, ldg, 0f, buffers.Columns, cn);
                    ConvLayout.ScatterAddTaps(g, buffers.Columns, t0, t1, c0, cn, ds);
                }
            }
            if (!g.DirectInput) ConvLayout.UnpackInputGrad(g, ds, n0, images, dx);
        }
    }

    /// <summary>dw [O,C,Kh,Kw] = Σ over images of gy ⋆ x: the adjoint of <see cref="Forward"/> in w.</summary>
    public static void WeightGrad(ConvGeometry g, float* gy, float* x, float* dw)
    {
        if (g.N == 0) { new Span<float>(dw, g.O * g.Taps * g.C).Clear(); return; }
        if (g.Im2col) { ConvIm2col.WeightGrad(g, gy, x, dw); return; }
        using var buffers = new Scratch(g, needPhase: !g.DirectInput, needWide: !g.DirectOutput, needTapMajor: g.Taps > 1);
        float* dwt = g.Taps > 1 ? buffers.TapMajor : dw;
        int depthLd = g.Taps * g.C;
        for (int n0 = 0; n0 < g.N; n0 += g.Group)
        {
            int images = Math.Min(g.Group, g.N - n0), cols = g.Columns(images);
            float* xs = g.DirectInput ? x + (long)n0 * g.C * g.InputPlane : buffers.Phase;
            if (!g.DirectInput) ConvLayout.PackInput(g, x, n0, images, xs);
            float* gs = g.DirectOutput ? gy + (long)n0 * g.O * g.OutputPlane : buffers.Wide;
            int ldg = g.DirectOutput ? g.OutputPlane : g.Ld;
            if (!g.DirectOutput) ConvLayout.WidenGrad(g, gy, n0, images, gs);
            // groups (and column tiles) are summed in order by accumulating onto the previous ones
            for (int t0 = 0; t0 < g.Taps; t0 += g.TapsPerGemm)
            {
                int t1 = Math.Min(g.Taps, t0 + g.TapsPerGemm), depth = (t1 - t0) * g.C;
                if (t1 - t0 == 1)
                    Gemm.Sgemm(false, true, g.O, depth, cols, 1f, gs, ldg, xs + g.TapOffset(t0), g.Ld,
                        n0 == 0 ? 0f : 1f, dwt + (long)t0 * g.C, depthLd);
                else
                    for (int c0 = 0; c0 < cols; c0 += ColumnTile)
                    {
                        int cn = Math.Min(ColumnTile, cols - c0);
                        ConvLayout.GatherTaps(g, xs, t0, t1, c0, cn, buffers.Columns);
                        Gemm.Sgemm(false, true, g.O, depth, cn, 1f, gs + c0, ldg, buffers.Columns, cn,
                            n0 == 0 && c0 == 0 ? 0f : 1f, dwt + (long)t0 * g.C, depthLd);
                    }
            }
        }
        if (g.Taps > 1) ConvLayout.WeightFromTapMajor(dwt, g.O, g.C, g.Taps, dw);
    }

    /// <summary>db [O] = Σ over images and pixels of gy [N,O,P]; images summed in order.</summary>
    public static void BiasGrad(float* gy, int n, int o, int plane, float* db)
    {
        nint G = (nint)gy, D = (nint)db;
        Threading.For(o, [MethodImpl(Hot)] (oi) =>
        {
            double s = 0;
            for (int i = 0; i < n; i++) s += PlaneSum((float*)G + ((long)i * o + oi) * plane, plane);
            ((float*)D)[oi] = (float)s;
        });
    }

    /// <summary>Sum of one plane with four SIMD accumulators (a fixed order), in double for the tail and total.</summary>
    [MethodImpl(Hot)]
    static double PlaneSum(float* p, int length)
    {
        int i = 0;
        double total = 0;
        if (Vector512.IsHardwareAccelerated && length >= 64)
        {
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; i + 64 <= length; i += 64)
            {
                a0 += Vector512.Load(p + i); a1 += Vector512.Load(p + i + 16);
                a2 += Vector512.Load(p + i + 32); a3 += Vector512.Load(p + i + 48);
            }
            total = Vector512.Sum((a0 + a1) + (a2 + a3));
        }
        else if (Vector256.IsHardwareAccelerated && length >= 32)
        {
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; i + 32 <= length; i += 32)
            {
                a0 += Vector256.Load(p + i); a1 += Vector256.Load(p + i + 8);
                a2 += Vector256.Load(p + i + 16); a3 += Vector256.Load(p + i + 24);
            }
            total = Vector256.Sum((a0 + a1) + (a2 + a3));
        }
        for (; i < length; i++) total += p[i];
        return total;
    }

    /// <summary>The buffers a call needs beyond its operands.</summary>
    sealed class Scratch : IDisposable
    {
        readonly PinnedScratch pinned = new();

        public Scratch(ConvGeometry g, bool needPhase, bool needWide, bool needTapMajor)
        {
            const string op = "conv2d";
            if (needPhase) Phase = pinned.Rent(g.PhaseLength, op);
            if (needWide) Wide = pinned.Rent(g.WideLength, op);
            if (needTapMajor) TapMajor = pinned.Rent((long)g.O * g.Taps * g.C, op);
            int cols = Math.Min(ColumnTile, g.Columns(Math.Min(g.Group, Math.Max(g.N, 1))));
            if (g.TapsPerGemm > 1) Columns = pinned.Rent((long)g.TapsPerGemm * g.C * cols, op);
        }

        public float* Phase { get; }
        public float* Wide { get; }
        public float* TapMajor { get; }
        public float* Columns { get; }

        public void Dispose() => pinned.Dispose();
    }
}
