using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Deja.Tensors.Kernels;

/// <summary>
/// Vector loops shared by group_norm and layer_norm: row statistics, the affine normalization and the
/// reductions of their backward. Every sum runs over fixed blocks of <see cref="Block"/> elements in
/// float vectors, and the block sums are added in double in index order, so a result depends only on
/// the data (never on threads) and long rows keep float-level accuracy.
/// Hot loops are compiled fully optimized on first call: tier-0 code for Vector&lt;T&gt; loops is an
/// order of magnitude slower, and a normalization runs few enough calls to stay there for a while.
/// </summary>
internal static class NormKernels
{
    const int Block = 1024;

    /// <summary>
    /// Mean and 1/sqrt(biased variance + eps) of a contiguous run. Two passes (the run is cache-resident
    /// on the second): a plain sum for a first mean m0, then Σd and Σd² of d = x − m0, and
    /// var = Σd²/n − (Σd/n)². The correction term removes the first-order error of m0, so a large
    /// common offset (x ≈ 1000 ± 1) costs no accuracy beyond the float rounding of x itself.
    /// The mean comes back as <paramref name="center"/> = m0 plus a small <paramref name="offset"/>:
    /// kernels form (x − center) − offset, where x − center is exact in float for x near the mean, so
    /// the normalized values stay accurate even where the mean itself is not representable in float.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MeanRstd(ReadOnlySpan<float> x, double eps, out float center, out float offset, out float rstd)
    {
        int n = x.Length;
        if (n == 0) { center = offset = 0; rstd = (float)(1 / Math.Sqrt(eps)); return; }
        double total = 0;
        for (int s = 0; s < n; s += Block)
            total += BlockSum(x.Slice(s, Math.Min(Block, n - s)));
        float m0 = (float)(total / n);
        double sd = 0, sd2 = 0;
        for (int s = 0; s < n; s += Block)
        {
            var (a, b) = CenteredSums(x.Slice(s, Math.Min(Block, n - s)), m0);
            sd += a; sd2 += b;
        }
        double shift = sd / n;
        double variance = Math.Max(sd2 / n - shift * shift, 0);
        center = m0;
        offset = (float)shift;
        rstd = (float)(1 / Math.Sqrt(variance + eps));
    }

    /// <summary>Σx over one block, in float.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float BlockSum(ReadOnlySpan<float> x)
    {
        int n = x.Length, w = Vector<float>.Count, i = 0;
        ref float r = ref MemoryMarshal.GetReference(x);
        Vector<float> s0 = default, s1 = default;
        for (; i <= n - 2 * w; i += 2 * w)
        {
            s0 += Vector.LoadUnsafe(ref r, (nuint)i);
            s1 += Vector.LoadUnsafe(ref r, (nuint)(i + w));
        }
        for (; i <= n - w; i += w) s0 += Vector.LoadUnsafe(ref r, (nuint)i);
        float s = Vector.Sum(s0 + s1);
        for (; i < n; i++) s += x[i];
        return s;
    }

    /// <summary>Σ(x − c) and Σ(x − c)² over one block, in float.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static (float Sum, float SumSq) CenteredSums(ReadOnlySpan<float> x, float c)
    {
        int n = x.Length, w = Vector<float>.Count, i = 0;
        ref float r = ref MemoryMarshal.GetReference(x);
        var vc = new Vector<float>(c);
        Vector<float> s0 = default, s1 = default, q0 = default, q1 = default;
        for (; i <= n - 2 * w; i += 2 * w)
        {
            var d0 = Vector.LoadUnsafe(ref r, (nuint)i) - vc;
            var d1 = Vector.LoadUnsafe(ref r, (nuint)(i + w)) - vc;
            s0 += d0; s1 += d1;
            q0 = Vector.FusedMultiplyAdd(d0, d0, q0);
            q1 = Vector.FusedMultiplyAdd(d1, d1, q1);
        }
        for (; i <= n - w; i += w)
        {
            var d0 = Vector.LoadUnsafe(ref r, (nuint)i) - vc;
            s0 += d0;
            q0 = Vector.FusedMultiplyAdd(d0, d0, q0);
        }
        float s = Vector.Sum(s0 + s1), q = Vector.Sum(q0 + q1);
        for (; i < n; i++) { float d = x[i] - c; s += d; q += d * d; }
        return (s, q);
    }

    /// <summary>Σg and Σg·(x − mean), the two sums every normalization backward needs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GradSums(ReadOnlySpan<float> g, ReadOnlySpan<float> x, float center, float offset, out double sumG, out double sumGXc)
    {
        sumG = 0; sumGXc = 0;
        for (int s = 0; s < g.Length; s += Block)
        {
            int len = Math.Min(Block, g.Length - s);
            var (a, b) = GradSumsBlock(g.Slice(s, len), x.Slice(s, len), center, offset);
            sumG += a; sumGXc += b;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static (float, float) GradSumsBlock(ReadOnlySpan<float> g, ReadOnlySpan<float> x, float center, float offset)
    {
        int n = g.Length, w = Vector<float>.Count, i = 0;
        ref float rg = ref MemoryMarshal.GetReference(g);
        ref float rx = ref MemoryMarshal.GetReference(x);
        Vector<float> vc = new(center), vo = new(offset);
        Vector<float> s0 = default, s1 = default, p0 = default, p1 = default;
        for (; i <= n - 2 * w; i += 2 * w)
        {
            var g0 = Vector.LoadUnsafe(ref rg, (nuint)i);
            var g1 = Vector.LoadUnsafe(ref rg, (nuint)(i + w));
            s0 += g0; s1 += g1;
            p0 = Vector.FusedMultiplyAdd(g0, Vector.LoadUnsafe(ref rx, (nuint)i) - vc - vo, p0);
            p1 = Vector.FusedMultiplyAdd(g1, Vector.LoadUnsafe(ref rx, (nuint)(i + w)) - vc - vo, p1);
        }
        for (; i <= n - w; i += w)
        {
            var g0 = Vector.LoadUnsafe(ref rg, (nuint)i);
            s0 += g0;
            p0 = Vector.FusedMultiplyAdd(g0, Vector.LoadUnsafe(ref rx, (nuint)i) - vc - vo, p0);
        }
        float s = Vector.Sum(s0 + s1), p = Vector.Sum(p0 + p1);
        for (; i < n; i++) { s += g[i]; p += g[i] * (x[i] - center - offset); }
        return (s, p);
    }

    /// <summary>y = (x − mean)·scale + shift, with the mean as center + offset (see <see cref="MeanRstd"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Affine(ReadOnlySpan<float> x, float center, float offset, float scale, float shift, Span<float> y)
    {
        int n = x.Length, w = Vector<float>.Count, i = 0;
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float ry = ref MemoryMarshal.GetReference(y);
        Vector<float> vc = new(center), vo = new(offset), vs = new(scale), vb = new(shift);
        for (; i <= n - w; i += w)
            Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref rx, (nuint)i) - vc - vo, vs, vb).StoreUnsafe(ref ry, (nuint)i);
        for (; i < n; i++) y[i] = (x[i] - center - offset) * scale + shift;
    }

    /// <summary>y = (x − mean)·rstd·w + b elementwise over a row (layer_norm's affine per feature).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AffineRow(ReadOnlySpan<float> x, float center, float offset, float rstd, ReadOnlySpan<float> w, ReadOnlySpan<float> b, Span<float> y)
    {
        int n = x.Length, vw = Vector<float>.Count, i = 0;
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float ry = ref MemoryMarshal.GetReference(y);
        ref float rw = ref MemoryMarshal.GetReference(w);
        ref float rb = ref MemoryMarshal.GetReference(b);
        Vector<float> vc = new(center), vo = new(offset), vr = new(rstd);
        for (; i <= n - vw; i += vw)
        {
            var xhat = (Vector.LoadUnsafe(ref rx, (nuint)i) - vc - vo) * vr;
            Vector.FusedMultiplyAdd(xhat, Vector.LoadUnsafe(ref rw, (nuint)i), Vector.LoadUnsafe(ref rb, (nuint)i)).StoreUnsafe(ref ry, (nuint)i);
        }
        for (; i < n; i++) y[i] = (x[i] - center - offset) * rstd * w[i] + b[i];
    }

    /// <summary>dx = k1·g + k2·(x − mean) + k3: the input gradient of a normalization, one channel or row at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void InputGrad(ReadOnlySpan<float> g, ReadOnlySpan<float> x, float center, float offset, float k1, float k2, float k3, Span<float> dx)
    {
        int n = g.Length, w = Vector<float>.Count, i = 0;
        ref float rg = ref MemoryMarshal.GetReference(g);
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float rd = ref MemoryMarshal.GetReference(dx);
        Vector<float> vc = new(center), vo = new(offset), v1 = new(k1), v2 = new(k2), v3 = new(k3);
        for (; i <= n - w; i += w)
        {
            var t = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref rx, (nuint)i) - vc - vo, v2, v3);
            Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref rg, (nuint)i), v1, t).StoreUnsafe(ref rd, (nuint)i);
        }
        for (; i < n; i++) dx[i] = g[i] * k1 + ((x[i] - center - offset) * k2 + k3);
    }

    /// <summary>y = z·σ(z) in place, in cache-sized pieces so σ(z) needs no full-size scratch.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SiluInPlace(Span<float> z)
    {
        Span<float> sig = stackalloc float[Block];
        for (int s = 0; s < z.Length; s += Block)
        {
            var piece = z.Slice(s, Math.Min(Block, z.Length - s));
            var sp = sig[..piece.Length];
            TensorPrimitives.Sigmoid(piece, sp);
            TensorPrimitives.Multiply(piece, sp, piece);
        }
    }

    /// <summary>
    /// dz = g·σ(z)·(1 + z·(1 − σ(z))), the SiLU derivative, for z = (x − mean)·scale + shift recomputed
    /// from x (cheaper than keeping z alive between forward and backward).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SiluGrad(ReadOnlySpan<float> g, ReadOnlySpan<float> x, float center, float offset, float scale, float shift, Span<float> dz)
    {
        Span<float> z = stackalloc float[Block];
        Span<float> sig = stackalloc float[Block];
        for (int s = 0; s < g.Length; s += Block)
        {
            int len = Math.Min(Block, g.Length - s);
            var zp = z[..len]; var sp = sig[..len];
            Affine(x.Slice(s, len), center, offset, scale, shift, zp);
            TensorPrimitives.Sigmoid(zp, sp);
            var gp = g.Slice(s, len); var dp = dz.Slice(s, len);
            int i = 0, w = Vector<float>.Count;
            ref float rz = ref MemoryMarshal.GetReference(zp);
            ref float rs = ref MemoryMarshal.GetReference(sp);
            ref float rg = ref MemoryMarshal.GetReference(gp);
            ref float rd = ref MemoryMarshal.GetReference(dp);
            for (; i <= len - w; i += w)
            {
                var sv = Vector.LoadUnsafe(ref rs, (nuint)i);
                var zv = Vector.LoadUnsafe(ref rz, (nuint)i);
                var slope = Vector.FusedMultiplyAdd(zv, Vector<float>.One - sv, Vector<float>.One);
                (Vector.LoadUnsafe(ref rg, (nuint)i) * sv * slope).StoreUnsafe(ref rd, (nuint)i);
            }
            for (; i < len; i++) dp[i] = gp[i] * sp[i] * (1 + zp[i] * (1 - sp[i]));
        }
    }

    /// <summary>
    /// First half of layer_norm's backward for one row: returns A = Σ g·w and Bc = Σ g·w·(x − mean),
    /// and adds g·(x − mean)·rstd to <paramref name="dw"/> and g to <paramref name="db"/> (the
    /// caller's per-chunk partial sums; empty spans skip them).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static (double A, double Bc) LayerNormRowSums(ReadOnlySpan<float> g, ReadOnlySpan<float> x, ReadOnlySpan<float> w,
        float center, float offset, float rstd, Span<float> dw, Span<float> db)
    {
        int n = g.Length, vw = Vector<float>.Count, i = 0;
        bool wantW = !dw.IsEmpty, wantB = !db.IsEmpty;
        ref float rg = ref MemoryMarshal.GetReference(g);
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float rw = ref MemoryMarshal.GetReference(w);
        ref float rdw = ref MemoryMarshal.GetReference(dw);
        ref float rdb = ref MemoryMarshal.GetReference(db);
        Vector<float> vc = new(center), vo = new(offset), vr = new(rstd), accA = default, accB = default;
        for (; i <= n - vw; i += vw)
        {
            var gv = Vector.LoadUnsafe(ref rg, (nuint)i);
            var xc = Vector.LoadUnsafe(ref rx, (nuint)i) - vc - vo;
            var gw = gv * Vector.LoadUnsafe(ref rw, (nuint)i);
            accA += gw;
            accB = Vector.FusedMultiplyAdd(gw, xc, accB);
            if (wantW) Vector.FusedMultiplyAdd(gv * xc, vr, Vector.LoadUnsafe(ref rdw, (nuint)i)).StoreUnsafe(ref rdw, (nuint)i);
            if (wantB) (Vector.LoadUnsafe(ref rdb, (nuint)i) + gv).StoreUnsafe(ref rdb, (nuint)i);
        }
        double a = Vector.Sum(accA), b = Vector.Sum(accB);
        for (; i < n; i++)
        {
            float xc = x[i] - center - offset, gw = g[i] * w[i];
            a += gw; b += gw * xc;
            if (wantW) dw[i] += g[i] * xc * rstd;
            if (wantB) db[i] += g[i];
        }
        return (a, b);
    }

    /// <summary>Second half of layer_norm's backward: dx = rstd·w·g + k2·(x − mean) + k3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void LayerNormRowInputGrad(ReadOnlySpan<float> g, ReadOnlySpan<float> x, ReadOnlySpan<float> w,
        float center, float offset, float rstd, float k2, float k3, Span<float> dx)
    {
        int n = g.Length, vw = Vector<float>.Count, i = 0;
        ref float rg = ref MemoryMarshal.GetReference(g);
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float rw = ref MemoryMarshal.GetReference(w);
        ref float rd = ref MemoryMarshal.GetReference(dx);
        Vector<float> vc = new(center), vo = new(offset), vr = new(rstd), v2 = new(k2), v3 = new(k3);
        for (; i <= n - vw; i += vw)
        {
            var t = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref rx, (nuint)i) - vc - vo, v2, v3);
            var gw = Vector.LoadUnsafe(ref rg, (nuint)i) * Vector.LoadUnsafe(ref rw, (nuint)i);
            Vector.FusedMultiplyAdd(gw, vr, t).StoreUnsafe(ref rd, (nuint)i);
        }
        for (; i < n; i++) dx[i] = g[i] * w[i] * rstd + ((x[i] - center - offset) * k2 + k3);
    }
}
