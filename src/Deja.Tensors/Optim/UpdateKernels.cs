using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Deja.Tensors.Kernels;

namespace Deja.Tensors.Optim;

/// <summary>Constants of one Adam/AdamW update, already in the float form the kernel uses.</summary>
internal readonly record struct AdamScalars(float Decay, float L2, float OneMinusBeta1, float Beta2, float OneMinusBeta2,
    float StepSize, float Bias2Sqrt, float Eps);

/// <summary>Constants of one SGD update.</summary>
internal readonly record struct SgdScalars(float Lr, float WeightDecay, float Momentum, float OneMinusDampening, bool Nesterov, bool FirstStep);

/// <summary>
/// The optimizers' elementwise updates. Each kernel is written once for a Vector&lt;float&gt; at a
/// position; the last partial vector goes through the same code on a zero-padded scratch copy, so
/// every element sees exactly the same operations wherever it sits. Large tensors are split into
/// fixed chunks over threads (elementwise, so the split cannot change a result).
/// </summary>
internal static class UpdateKernels
{
    const int Chunk = 1 << 15;
    static readonly int W = Vector<float>.Count;

    /// <summary>Runs body over [0, n) in chunks, in parallel when the tensor is large.</summary>
    public static void Run(int n, Action<int, int> body)
    {
        if (n < Elementwise.ParallelThreshold) { if (n > 0) body(0, n); }
        else Threading.Chunks(n, Chunk, body);
    }

    // ------------------------------------------------------------ Adam / AdamW

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Adam(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v, Span<float> vmax, in AdamScalars c)
    {
        int n = p.Length, i = 0;
        bool ams = !vmax.IsEmpty;
        ref float rp = ref MemoryMarshal.GetReference(p);
        ref float rg = ref MemoryMarshal.GetReference(g);
        ref float rm = ref MemoryMarshal.GetReference(m);
        ref float rv = ref MemoryMarshal.GetReference(v);
        ref float rx = ref MemoryMarshal.GetReference(vmax);
        for (; i <= n - W; i += W)
            AdamVector(ref Unsafe.Add(ref rp, i), ref Unsafe.Add(ref rg, i), ref Unsafe.Add(ref rm, i), ref Unsafe.Add(ref rv, i),
                ref ams ? ref Unsafe.Add(ref rx, i) : ref rx, ams, c);
        if (i == n) return;
        int k = n - i;
        Span<float> t = stackalloc float[5 * W];
        t.Clear();
        p[i..].CopyTo(t); g[i..].CopyTo(t[W..]); m[i..].CopyTo(t[(2 * W)..]); v[i..].CopyTo(t[(3 * W)..]);
        if (ams) vmax[i..].CopyTo(t[(4 * W)..]);
        AdamVector(ref t[0], ref t[W], ref t[2 * W], ref t[3 * W], ref t[4 * W], ams, c);
        t[..k].CopyTo(p[i..]); t.Slice(2 * W, k).CopyTo(m[i..]); t.Slice(3 * W, k).CopyTo(v[i..]);
        if (ams) t.Slice(4 * W, k).CopyTo(vmax[i..]);
    }

    /// <summary>
    /// PyTorch's single-tensor Adam/AdamW, in its order of operations: p ← p·(1 − lr·wd) (AdamW),
    /// g ← g + wd·p (Adam's L2), m ← m + (1 − β1)(g − m), v ← β2·v + (1 − β2)·g²,
    /// [v̂ ← max(v̂, v)], p ← p − step_size · m / (√v / √(1 − β2ᵗ) + eps).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void AdamVector(ref float p, ref float g, ref float m, ref float v, ref float vmax, bool ams, in AdamScalars c)
    {
        var pv = Vector.LoadUnsafe(ref p);
        var gv = Vector.LoadUnsafe(ref g);
        if (c.Decay != 1f) pv *= new Vector<float>(c.Decay);
        if (c.L2 != 0f) gv += new Vector<float>(c.L2) * pv;
        var mv = Vector.LoadUnsafe(ref m);
        mv += new Vector<float>(c.OneMinusBeta1) * (gv - mv);
        mv.StoreUnsafe(ref m);
        var vv = Vector.LoadUnsafe(ref v) * new Vector<float>(c.Beta2) + new Vector<float>(c.OneMinusBeta2) * gv * gv;
        vv.StoreUnsafe(ref v);
        if (ams)
        {
            vv = Vector.Max(Vector.LoadUnsafe(ref vmax), vv);
            vv.StoreUnsafe(ref vmax);
        }
        var denom = Vector.SquareRoot(vv) / new Vector<float>(c.Bias2Sqrt) + new Vector<float>(c.Eps);
        pv -= new Vector<float>(c.StepSize) * (mv / denom);
        pv.StoreUnsafe(ref p);
    }

    // ------------------------------------------------------------ SGD

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Sgd(Span<float> p, ReadOnlySpan<float> g, Span<float> buf, in SgdScalars c)
    {
        int n = p.Length, i = 0;
        bool momentum = !buf.IsEmpty;
        ref float rp = ref MemoryMarshal.GetReference(p);
        ref float rg = ref MemoryMarshal.GetReference(g);
        ref float rb = ref MemoryMarshal.GetReference(buf);
        for (; i <= n - W; i += W)
            SgdVector(ref Unsafe.Add(ref rp, i), ref Unsafe.Add(ref rg, i), ref momentum ? ref Unsafe.Add(ref rb, i) : ref rb, momentum, c);
        if (i == n) return;
        int k = n - i;
        Span<float> t = stackalloc float[3 * W];
        t.Clear();
        p[i..].CopyTo(t); g[i..].CopyTo(t[W..]);
        if (momentum) buf[i..].CopyTo(t[(2 * W)..]);
        SgdVector(ref t[0], ref t[W], ref t[2 * W], momentum, c);
        t[..k].CopyTo(p[i..]);
        if (momentum) t.Slice(2 * W, k).CopyTo(buf[i..]);
    }

    /// <summary>
    /// PyTorch's SGD: d ← g + wd·p; with momentum b ← d on the first step, else b ← μ·b + (1 − dampening)·d,
    /// and d ← d + μ·b (Nesterov) or d ← b; then p ← p − lr·d.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void SgdVector(ref float p, ref float g, ref float buf, bool momentum, in SgdScalars c)
    {
        var pv = Vector.LoadUnsafe(ref p);
        var d = Vector.LoadUnsafe(ref g);
        if (c.WeightDecay != 0f) d += new Vector<float>(c.WeightDecay) * pv;
        if (momentum)
        {
            var mu = new Vector<float>(c.Momentum);
            var b = c.FirstStep ? d : Vector.LoadUnsafe(ref buf) * mu + new Vector<float>(c.OneMinusDampening) * d;
            b.StoreUnsafe(ref buf);
            d = c.Nesterov ? d + mu * b : b;
        }
        pv -= new Vector<float>(c.Lr) * d;
        pv.StoreUnsafe(ref p);
    }

    // ------------------------------------------------------------ EMA, clipping

    /// <summary>s ← s − (1 − decay)·(s − p), the form diffusers' EMAModel uses.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void EmaUpdate(Span<float> shadow, ReadOnlySpan<float> param, float oneMinusDecay)
    {
        int n = shadow.Length, i = 0;
        ref float rs = ref MemoryMarshal.GetReference(shadow);
        ref float rp = ref MemoryMarshal.GetReference(param);
        var f = new Vector<float>(oneMinusDecay);
        for (; i <= n - W; i += W)
        {
            var s = Vector.LoadUnsafe(ref rs, (nuint)i);
            (s - f * (s - Vector.LoadUnsafe(ref rp, (nuint)i))).StoreUnsafe(ref rs, (nuint)i);
        }
        if (i == n) return;
        Span<float> t = stackalloc float[2 * W];
        t.Clear();
        shadow[i..].CopyTo(t); param[i..].CopyTo(t[W..]);
        var st = Vector.LoadUnsafe(ref t[0]);
        (st - f * (st - Vector.LoadUnsafe(ref t[W]))).StoreUnsafe(ref t[0]);
        t[..(n - i)].CopyTo(shadow[i..]);
    }

    /// <summary>Σ|x|^p in double (p = 1 or 2 vectorized, otherwise Math.Pow), or max |x| for p = ∞.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static double PowerSum(ReadOnlySpan<float> x, double p)
    {
        if (double.IsPositiveInfinity(p))
        {
            double mx = 0;
            foreach (var e in x) { double a = Math.Abs((double)e); if (a > mx || double.IsNaN(a)) mx = a; }
            return mx;
        }
        int i = 0;
        ref float rx = ref MemoryMarshal.GetReference(x);
        if (p == 2 || p == 1)
        {
            Vector<double> acc0 = default, acc1 = default;
            for (; i <= x.Length - W; i += W)
            {
                Vector.Widen(Vector.LoadUnsafe(ref rx, (nuint)i), out Vector<double> lo, out Vector<double> hi);
                if (p == 2) { acc0 = Vector.FusedMultiplyAdd(lo, lo, acc0); acc1 = Vector.FusedMultiplyAdd(hi, hi, acc1); }
                else { acc0 += Vector.Abs(lo); acc1 += Vector.Abs(hi); }
            }
            double s = Vector.Sum(acc0 + acc1);
            for (; i < x.Length; i++) s += p == 2 ? (double)x[i] * x[i] : Math.Abs((double)x[i]);
            return s;
        }
        double r = 0;
        for (; i < x.Length; i++) r += Math.Pow(Math.Abs((double)x[i]), p);
        return r;
    }
}
