using System.Numerics.Tensors;

namespace Deja.Tensors.Kernels;

/// <summary>
/// conv2d forward and its two adjoints as a handful of GEMMs per group of images, one per tap (or
/// per run of stacked taps), over the shifted phase planes of <see cref="ConvGeometry"/>. All GEMMs
/// are called from the calling thread (OpenBLAS threads them); the layout passes run in parallel.
/// Weights are used as [O, T, C] (tap-major), so a run of taps is a block of columns.
/// Every sum is taken in a fixed order (taps in order, images in order), whatever the thread count.
/// </summary>
internal static unsafe class ConvKernels
{
    /// <summary>y [N,O,Ho,Wo] = conv(x [N,C,H,W], w [O,C,Kh,Kw]) + bias (null: none).</summary>
    public static void Forward(ConvGeometry g, float* x, float* w, float* bias, float* y)
    {
        if (g.N == 0) return;
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
                Threading.For(g.O, o => new Span<float>((float*)Y + (long)o * ldy, cols).Fill(((float*)B)[o]));
                accumulate = true;
            }
            for (int t0 = 0; t0 < g.Taps; t0 += g.TapsPerGemm)
            {
                int t1 = Math.Min(g.Taps, t0 + g.TapsPerGemm);
                var (b, ldb) = TapOperand(g, buffers, xs, t0, t1, cols);
                Gemm.Sgemm(false, false, g.O, cols, (t1 - t0) * g.C, 1f, wt + (long)t0 * g.C, depthLd, (float*)b, ldb,
                    accumulate ? 1f : 0f, ys, ldy);
                accumulate = true;
            }
            if (!g.DirectOutput) ConvLayout.CompactOutput(g, ys, n0, images, bias, y);
        }
    }

    /// <summary>dx [N,C,H,W] = convᵀ(gy [N,O,Ho,Wo], w): the adjoint of <see cref="Forward"/> in x.</summary>
    public static void InputGrad(ConvGeometry g, float* gy, float* w, float* dx)
    {
        if (g.N == 0) return;
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
                int t1 = Math.Min(g.Taps, t0 + g.TapsPerGemm);
                if (t1 - t0 == 1)
                {
                    Gemm.Sgemm(true, false, g.C, cols, g.O, 1f, wt + (long)t0 * g.C, depthLd, gs, ldg,
                        overwrite ? 0f : 1f, ds + g.TapOffset(t0), g.Ld);
                    continue;
                }
                Gemm.Sgemm(true, false, (t1 - t0) * g.C, cols, g.O, 1f, wt + (long)t0 * g.C, depthLd, gs, ldg, 0f, buffers.Columns, cols);
                ConvLayout.ScatterAddTaps(g, buffers.Columns, t0, t1, cols, ds);
            }
            if (!g.DirectInput) ConvLayout.UnpackInputGrad(g, ds, n0, images, dx);
        }
    }

    /// <summary>dw [O,C,Kh,Kw] = Σ over images of gy ⋆ x: the adjoint of <see cref="Forward"/> in w.</summary>
    public static void WeightGrad(ConvGeometry g, float* gy, float* x, float* dw)
    {
        using var buffers = new Scratch(g, needPhase: !g.DirectInput, needWide: !g.DirectOutput, needTapMajor: g.Taps > 1);
        float* dwt = g.Taps > 1 ? buffers.TapMajor : dw;
        if (g.N == 0) new Span<float>(dwt, g.O * g.Taps * g.C).Clear();
        int depthLd = g.Taps * g.C;
        for (int n0 = 0; n0 < g.N; n0 += g.Group)
        {
            int images = Math.Min(g.Group, g.N - n0), cols = g.Columns(images);
            float* xs = g.DirectInput ? x + (long)n0 * g.C * g.InputPlane : buffers.Phase;
            if (!g.DirectInput) ConvLayout.PackInput(g, x, n0, images, xs);
            float* gs = g.DirectOutput ? gy + (long)n0 * g.O * g.OutputPlane : buffers.Wide;
            int ldg = g.DirectOutput ? g.OutputPlane : g.Ld;
            if (!g.DirectOutput) ConvLayout.WidenGrad(g, gy, n0, images, gs);
            for (int t0 = 0; t0 < g.Taps; t0 += g.TapsPerGemm)
            {
                int t1 = Math.Min(g.Taps, t0 + g.TapsPerGemm);
                var (b, ldb) = TapOperand(g, buffers, xs, t0, t1, cols);
                // groups are summed in order by accumulating onto the previous ones
                Gemm.Sgemm(false, true, g.O, (t1 - t0) * g.C, cols, 1f, gs, ldg, (float*)b, ldb,
                    n0 == 0 ? 0f : 1f, dwt + (long)t0 * g.C, depthLd);
            }
        }
        if (g.Taps > 1) ConvLayout.WeightFromTapMajor(dwt, g.O, g.C, g.Taps, dw);
    }

    /// <summary>db [O] = Σ over images and pixels of gy [N,O,P]; images summed in order.</summary>
    public static void BiasGrad(float* gy, int n, int o, int plane, float* db)
    {
        nint G = (nint)gy, D = (nint)db;
        Threading.For(o, oi =>
        {
            double s = 0;
            for (int i = 0; i < n; i++)
                s += TensorPrimitives.Sum(new ReadOnlySpan<float>((float*)G + ((long)i * o + oi) * plane, plane));
            ((float*)D)[oi] = (float)s;
        });
    }

    /// <summary>The GEMM operand of taps t0..t1: the shifted phase planes themselves for one tap,
    /// stacked copies for several.</summary>
    static (nint B, int Ldb) TapOperand(ConvGeometry g, Scratch buffers, float* phase, int t0, int t1, int cols)
    {
        if (t1 - t0 == 1) return ((nint)(phase + g.TapOffset(t0)), g.Ld);
        ConvLayout.GatherTaps(g, phase, t0, t1, cols, buffers.Columns);
        return ((nint)buffers.Columns, cols);
    }

    /// <summary>Pooled, pinned scratch buffers for one call.</summary>
    sealed class Scratch : IDisposable
    {
        readonly float[]?[] arrays = new float[]?[4];
        readonly System.Runtime.InteropServices.GCHandle[] handles = new System.Runtime.InteropServices.GCHandle[4];

        public Scratch(ConvGeometry g, bool needPhase, bool needWide, bool needTapMajor)
        {
            Phase = needPhase ? Rent(0, g.PhaseLength) : null;
            Wide = needWide ? Rent(1, g.WideLength) : null;
            TapMajor = needTapMajor ? Rent(2, (long)g.O * g.Taps * g.C) : null;
            Columns = g.TapsPerGemm > 1 ? Rent(3, (long)g.TapsPerGemm * g.C * g.Columns(Math.Min(g.Group, Math.Max(g.N, 1)))) : null;
        }

        public float* Phase { get; }
        public float* Wide { get; }
        public float* TapMajor { get; }
        public float* Columns { get; }

        float* Rent(int slot, long length)
        {
            if (length > Array.MaxLength) throw new ArgumentException($"conv2d: a scratch buffer of {length} floats is larger than an array can hold");
            var a = BufferPool.Rent((int)length);
            arrays[slot] = a;
            handles[slot] = System.Runtime.InteropServices.GCHandle.Alloc(a, System.Runtime.InteropServices.GCHandleType.Pinned);
            return (float*)handles[slot].AddrOfPinnedObject();
        }

        public void Dispose()
        {
            for (int i = 0; i < arrays.Length; i++)
            {
                if (arrays[i] is not { } a) continue;
                handles[i].Free();
                BufferPool.Return(a);
                arrays[i] = null;
            }
        }
    }
}
