using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Deja.Tensors.Kernels;

/// <summary>
/// The error function, the standard normal CDF Φ and exact GELU (x·Φ(x)) over float spans.
/// TensorPrimitives has no erf, and the usual float approximations are good to ~1e-6; these are
/// evaluated in double internally, so erf is within about half a float ulp (≤ 6e-8 relative). Φ and GELU
/// in their left tail, where they are erfc-sized, are within 2e-7 (float exp's error shows there).
/// Vector512, Vector&lt;T&gt; (AVX2/NEON) and scalar paths evaluate the same formulas (<see cref="SimdPath"/>).
///
/// Two regimes, both fitted by Chebyshev interpolation (mpmath, 40 digits) and converted to monomials:
///   |x| &lt; 1:  erf(x) = x·P(x²), P of degree 7, relative error 3e-11;
///   |x| ≥ 1:  erfc(|x|) = exp(−x²)·S(y)/|x| with y = (|x|−2)/(|x|+2) ∈ [−1/3, 1), S of degree 11,
///            relative error 4e-10. The map y covers [1, ∞) with one polynomial because x·erfcx(x)
///            tends to 1/√π smoothly as y → 1.
/// The tail form keeps erfc (and so Φ for negative x, and GELU's left tail) accurate relative to its
/// own small size instead of suffering the cancellation in 1 + erf(x).
/// exp(−x²) is taken in float (fast, vectorized) on the float-rounded x² and corrected by the
/// residual of that rounding, which keeps its relative error near float precision.
/// </summary>
public static class ErfKernel
{
    const double P7 = -9.6670445714869964e-6, P6 = 1.1265959025606609e-4, P5 = -8.4840804055351063e-4,
        P4 = 5.2210318078580228e-3, P3 = -2.6865430727670243e-2, P2 = 1.1283782495236845e-1,
        P1 = -3.761263846802871e-1, P0 = 1.1283791670615434;

    const double S11 = -6.700756057571987e-5, S10 = 3.8096308989392888e-4, S9 = -5.0234126397379206e-4,
        S8 = -7.4386664289313537e-4, S7 = 1.1704887393946801e-3, S6 = 4.7719324477239148e-3,
        S5 = -7.5184498275072353e-3, S4 = -2.8975136011121461e-2, S3 = 1.2151497203759194e-1,
        S2 = -2.038443345523542e-1, S1 = 1.6721101040038891e-1, S0 = 5.1079135279956734e-1;

    /// <summary>Beyond this |x| erfc underflows in double; clamping keeps y finite for ±∞.</summary>
    const double Clamp = 30;
    const double InvSqrt2 = 0.70710678118654752440;

    enum Mode { Erf, Cdf, Gelu }

    static SimdPath path = Simd.Best;

    /// <summary>The instruction width in use (default: the widest the CPU runs); tests switch it to cover
    /// every path. Every path evaluates the same double-precision formulas.</summary>
    internal static SimdPath Path { get => path; set => path = Simd.Check(value); }

    /// <summary>y = erf(x).</summary>
    public static void Apply(ReadOnlySpan<float> x, Span<float> y) => Run(x, y, Mode.Erf);

    /// <summary>y = Φ(x) = (1 + erf(x/√2))/2, accurate in both tails.</summary>
    public static void NormalCdf(ReadOnlySpan<float> x, Span<float> y) => Run(x, y, Mode.Cdf);

    /// <summary>y = x·Φ(x), PyTorch's gelu(approximate="none").</summary>
    public static void Gelu(ReadOnlySpan<float> x, Span<float> y) => Run(x, y, Mode.Gelu);

    /// <summary>erf in double with the same approximation (for the scalar path and for tests).</summary>
    public static double Scalar(double x)
    {
        double ax = Math.Min(Math.Abs(x), Clamp);
        if (double.IsNaN(x)) return x;
        return Math.CopySign(ax < 1 ? ax * Small(ax * ax) : 1 - ErfcTail(ax, Math.Exp(-ax * ax)), x);
    }

    static double Small(double s) =>
        ((((((P7 * s + P6) * s + P5) * s + P4) * s + P3) * s + P2) * s + P1) * s + P0;

    static double ErfcTail(double ax, double expMinusSquare)
    {
        double y = (ax - 2) / (ax + 2);
        double q = ((((((((((S11 * y + S10) * y + S9) * y + S8) * y + S7) * y + S6) * y + S5) * y + S4) * y
                     + S3) * y + S2) * y + S1) * y + S0;
        return expMinusSquare * q / ax;
    }

    static double ScalarMode(double x, Mode mode)
    {
        if (mode == Mode.Erf) return Scalar(x);
        if (double.IsNaN(x)) return x;
        double u = x * InvSqrt2, au = Math.Min(Math.Abs(u), Clamp);
        double cdf = au < 1 ? 0.5 + 0.5 * u * Small(au * au)
            : u < 0 ? 0.5 * ErfcTail(au, Math.Exp(-au * au)) : 1 - 0.5 * ErfcTail(au, Math.Exp(-au * au));
        return mode == Mode.Cdf ? cdf : x * cdf;
    }

    static void Run(ReadOnlySpan<float> x, Span<float> y, Mode mode)
    {
        if (y.Length < x.Length) throw new ArgumentException("erf: destination is shorter than the source");
        int i = 0;
        if (path == SimdPath.Vector) { RunVector(x, y, mode); return; }
        if (path == SimdPath.Vector512)
        {
            for (; i + 16 <= x.Length; i += 16)
                Block16(Vector512.Create(x.Slice(i, 16)), mode).CopyTo(y.Slice(i, 16));
            if (i < x.Length)
            {
                // The tail goes through the same vector code, so every element gets identical arithmetic.
                Span<float> pad = stackalloc float[16];
                pad.Clear();
                x[i..].CopyTo(pad);
                Block16(Vector512.Create(pad), mode).CopyTo(pad);
                pad[..(x.Length - i)].CopyTo(y[i..]);
            }
            return;
        }
        for (; i < x.Length; i++) y[i] = (float)ScalarMode(x[i], mode);
    }

    /// <summary>The same arithmetic as <see cref="Block16"/> at the platform's Vector&lt;T&gt; width (8 floats
    /// with AVX2, 4 with NEON); the tail goes through a padded block too.</summary>
    static void RunVector(ReadOnlySpan<float> x, Span<float> y, Mode mode)
    {
        int w = Vector<float>.Count, i = 0;
        for (; i + w <= x.Length; i += w)
            BlockVector(new Vector<float>(x.Slice(i, w)), mode).CopyTo(y.Slice(i, w));
        if (i < x.Length)
        {
            Span<float> pad = stackalloc float[w];
            pad.Clear();
            x[i..].CopyTo(pad);
            BlockVector(new Vector<float>(pad), mode).CopyTo(pad);
            pad[..(x.Length - i)].CopyTo(y[i..]);
        }
    }

    static Vector<float> BlockVector(Vector<float> xf, Mode mode)
    {
        Vector.Widen(xf, out Vector<double> xlo, out Vector<double> xhi);
        if (mode != Mode.Erf)
        {
            xlo *= new Vector<double>(InvSqrt2);
            xhi *= new Vector<double>(InvSqrt2);
        }
        var clamp = new Vector<double>(Clamp);
        var alo = Vector.Min(Vector.Abs(xlo), clamp);
        var ahi = Vector.Min(Vector.Abs(xhi), clamp);
        var slo = alo * alo;
        var shi = ahi * ahi;
        var sf = Vector.Narrow(slo, shi);
        Vector.Widen(sf, out Vector<double> sflo, out Vector<double> sfhi);
        Vector.Widen(Vector.Exp(-sf), out Vector<double> elo, out Vector<double> ehi);
        elo *= Vector<double>.One - (slo - sflo);
        ehi *= Vector<double>.One - (shi - sfhi);
        var rlo = FinishVector(xlo, alo, slo, elo, mode);
        var rhi = FinishVector(xhi, ahi, shi, ehi, mode);
        if (mode == Mode.Gelu)
        {
            Vector.Widen(xf, out Vector<double> olo, out Vector<double> ohi);
            rlo *= olo;
            rhi *= ohi;
        }
        var r = Vector.Narrow(rlo, rhi);
        return Vector.ConditionalSelect(Vector.Equals(xf, xf), r, xf);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector<double> FinishVector(Vector<double> u, Vector<double> au, Vector<double> s, Vector<double> e, Mode mode)
    {
        var p = new Vector<double>(P7);
        p = Vector.FusedMultiplyAdd(p, s, new Vector<double>(P6));
        p = Vector.FusedMultiplyAdd(p, s, new Vector<double>(P5));
        p = Vector.FusedMultiplyAdd(p, s, new Vector<double>(P4));
        p = Vector.FusedMultiplyAdd(p, s, new Vector<double>(P3));
        p = Vector.FusedMultiplyAdd(p, s, new Vector<double>(P2));
        p = Vector.FusedMultiplyAdd(p, s, new Vector<double>(P1));
        p = Vector.FusedMultiplyAdd(p, s, new Vector<double>(P0));
        var small = p * u;

        // AVX2 has no double reciprocal estimate; one division (four lanes) serves both 1/(a+2) and 1/a.
        var two = new Vector<double>(2.0);
        var ap2 = au + two;
        var r = Vector<double>.One / (au * ap2);
        var y = (au - two) * au * r;
        var q = new Vector<double>(S11);
        q = Vector.FusedMultiplyAdd(q, y, new Vector<double>(S10));
        q = Vector.FusedMultiplyAdd(q, y, new Vector<double>(S9));
        q = Vector.FusedMultiplyAdd(q, y, new Vector<double>(S8));
        q = Vector.FusedMultiplyAdd(q, y, new Vector<double>(S7));
        q = Vector.FusedMultiplyAdd(q, y, new Vector<double>(S6));
        q = Vector.FusedMultiplyAdd(q, y, new Vector<double>(S5));
        q = Vector.FusedMultiplyAdd(q, y, new Vector<double>(S4));
        q = Vector.FusedMultiplyAdd(q, y, new Vector<double>(S3));
        q = Vector.FusedMultiplyAdd(q, y, new Vector<double>(S2));
        q = Vector.FusedMultiplyAdd(q, y, new Vector<double>(S1));
        q = Vector.FusedMultiplyAdd(q, y, new Vector<double>(S0));
        var erfc = e * q * (ap2 * r);

        var isSmall = Vector.LessThan(au, Vector<double>.One);
        if (mode == Mode.Erf)
            return Vector.ConditionalSelect(isSmall, small, Vector.CopySign(Vector<double>.One - erfc, u));
        var half = new Vector<double>(0.5);
        var tail = Vector.ConditionalSelect(Vector.LessThan(u, Vector<double>.Zero), half * erfc, Vector<double>.One - half * erfc);
        return Vector.ConditionalSelect(isSmall, half + half * small, tail);
    }

    static Vector512<float> Block16(Vector512<float> xf, Mode mode)
    {
        var (xlo, xhi) = Vector512.Widen(xf);
        if (mode != Mode.Erf)
        {
            xlo *= Vector512.Create(InvSqrt2);
            xhi *= Vector512.Create(InvSqrt2);
        }
        var alo = Vector512.Min(Vector512.Abs(xlo), Vector512.Create(Clamp));
        var ahi = Vector512.Min(Vector512.Abs(xhi), Vector512.Create(Clamp));
        var slo = alo * alo;
        var shi = ahi * ahi;
        // exp(−s) = exp(−s_f)·exp(−(s − s_f)) with s_f = float(s); the second factor is 1 − (s − s_f) to double precision.
        var sf = Vector512.Narrow(slo, shi);
        var (sflo, sfhi) = Vector512.Widen(sf);
        var (elo, ehi) = Vector512.Widen(Vector512.Exp(-sf));
        elo *= Vector512<double>.One - (slo - sflo);
        ehi *= Vector512<double>.One - (shi - sfhi);
        var rlo = Finish(xlo, alo, slo, elo, mode);
        var rhi = Finish(xhi, ahi, shi, ehi, mode);
        if (mode == Mode.Gelu)
        {
            var (olo, ohi) = Vector512.Widen(xf);
            rlo *= olo;
            rhi *= ohi;
        }
        var r = Vector512.Narrow(rlo, rhi);
        // NaN in, NaN out (the clamp above would have turned it into a number).
        return Vector512.ConditionalSelect(Vector512.Equals(xf, xf), r, xf);
    }

    /// <summary>1/d to double precision: a 14-bit estimate refined by two Newton steps is several times
    /// cheaper than a vector division, which would otherwise dominate the kernel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<double> Reciprocal(Vector512<double> d)
    {
        // only reached on the Vector512 path, which Simd.Best picks only where AVX-512 runs; the check
        // keeps a forced path on another CPU an exception instead of an illegal instruction
        if (!Avx512F.IsSupported) return Vector512<double>.One / d;
        var r = Avx512F.Reciprocal14(d);
        var e = Vector512.FusedMultiplyAdd(-d, r, Vector512<double>.One);
        r = Vector512.FusedMultiplyAdd(r, e, r);
        e = Vector512.FusedMultiplyAdd(-d, r, Vector512<double>.One);
        return Vector512.FusedMultiplyAdd(r, e, r);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<double> Finish(Vector512<double> u, Vector512<double> au, Vector512<double> s, Vector512<double> e, Mode mode)
    {
        var p = Vector512.Create(P7);
        p = Vector512.FusedMultiplyAdd(p, s, Vector512.Create(P6));
        p = Vector512.FusedMultiplyAdd(p, s, Vector512.Create(P5));
        p = Vector512.FusedMultiplyAdd(p, s, Vector512.Create(P4));
        p = Vector512.FusedMultiplyAdd(p, s, Vector512.Create(P3));
        p = Vector512.FusedMultiplyAdd(p, s, Vector512.Create(P2));
        p = Vector512.FusedMultiplyAdd(p, s, Vector512.Create(P1));
        p = Vector512.FusedMultiplyAdd(p, s, Vector512.Create(P0));
        var small = p * u; // signed erf for |u| < 1

        // One division gives both 1/(a+2) (for y) and 1/a (for erfc).
        var two = Vector512.Create(2.0);
        var ap2 = au + two;
        var r = Reciprocal(au * ap2);
        var y = (au - two) * au * r;
        var q = Vector512.Create(S11);
        q = Vector512.FusedMultiplyAdd(q, y, Vector512.Create(S10));
        q = Vector512.FusedMultiplyAdd(q, y, Vector512.Create(S9));
        q = Vector512.FusedMultiplyAdd(q, y, Vector512.Create(S8));
        q = Vector512.FusedMultiplyAdd(q, y, Vector512.Create(S7));
        q = Vector512.FusedMultiplyAdd(q, y, Vector512.Create(S6));
        q = Vector512.FusedMultiplyAdd(q, y, Vector512.Create(S5));
        q = Vector512.FusedMultiplyAdd(q, y, Vector512.Create(S4));
        q = Vector512.FusedMultiplyAdd(q, y, Vector512.Create(S3));
        q = Vector512.FusedMultiplyAdd(q, y, Vector512.Create(S2));
        q = Vector512.FusedMultiplyAdd(q, y, Vector512.Create(S1));
        q = Vector512.FusedMultiplyAdd(q, y, Vector512.Create(S0));
        var erfc = e * q * (ap2 * r); // erfc(|u|) for |u| ≥ 1

        var isSmall = Vector512.LessThan(au, Vector512<double>.One);
        if (mode == Mode.Erf)
            return Vector512.ConditionalSelect(isSmall, small, Vector512.CopySign(Vector512<double>.One - erfc, u));
        // Φ = (1 + erf(u))/2: for u ≤ −1 it is erfc(|u|)/2 directly, with no cancellation.
        var half = Vector512.Create(0.5);
        var tail = Vector512.ConditionalSelect(Vector512.LessThan(u, Vector512<double>.Zero), half * erfc, Vector512<double>.One - half * erfc);
        return Vector512.ConditionalSelect(isSmall, half + half * small, tail);
    }
}
