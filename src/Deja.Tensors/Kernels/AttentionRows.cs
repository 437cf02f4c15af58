using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Deja.Tensors.Kernels;

/// <summary>
/// Row kernels of attention, on raw pointers, in plain Vector512 code, with Vector256 (AVX2) paths of
/// the same shape for CPUs without AVX-512 and scalar code elsewhere. TensorPrimitives pays a fixed
/// cost per call (its Max took 85 ns on a 77-float row, against 4 ns here), and cross-attention has
/// 65536 rows of 77 keys per SD call, where such per-row costs rivalled the products themselves.
///
/// <see cref="ExpShifted"/> does row[j] = exp(row[j] − shift) in place, fused with the sum of the
/// results: the softmax of a row in one pass after its max, where TensorPrimitives would need three
/// (subtract, exp, sum).
///
/// exp uses the usual reduction x = n·ln2 + r, |r| ≤ ln2/2, a degree-7 polynomial for e^r (relative
/// error about 1e-7) and 2^n built from the exponent bits. Arguments below −87.3 (where 2^n would be
/// denormal) give exactly 0, so −∞ scores vanish; NaN stays NaN. Arguments must stay below 88.
/// </summary>
internal static unsafe class AttentionRows
{
    /// <summary>Rows handed to <see cref="ExpShifted"/> must have room for a multiple of this many floats.</summary>
    public const int Pad = 16;

    public static int Padded(int n) => (n + Pad - 1) / Pad * Pad;

    const float Log2E = 1.44269504088896341f;
    const float Ln2Hi = 0.693359375f;        // ln 2 split so that n·Ln2Hi is exact for |n| < 2^9
    const float Ln2Lo = -2.12194440e-4f;
    const float Underflow = -87.3f;
    // e^r ≈ 1 + r + r²·(C2 + r·(C3 + r·(C4 + r·(C5 + r·(C6 + r·C7))))) on |r| ≤ ln2/2
    const float C2 = 5.0000001201e-1f, C3 = 1.6666665459e-1f, C4 = 4.1665795894e-2f;
    const float C5 = 8.3334519073e-3f, C6 = 1.3981999507e-3f, C7 = 1.9875691500e-4f;

    /// <summary>
    /// Max of row[0..len), len ≥ 1. A NaN may be skipped; it still turns the row's exp and sum into NaN.
    /// </summary>
    public static float Max(float* row, int len)
    {
        if (!Vector512.IsHardwareAccelerated || len < 16)
            return Vector256.IsHardwareAccelerated && len >= 8 ? Max256(row, len)
                : System.Numerics.Tensors.TensorPrimitives.Max(new ReadOnlySpan<float>(row, len));
        var m0 = Vector512.Load(row);
        var m1 = m0;
        int j = 16;
        for (; j + 32 <= len; j += 32)
        {
            m0 = Vector512.MaxNative(m0, Vector512.Load(row + j));
            m1 = Vector512.MaxNative(m1, Vector512.Load(row + j + 16));
        }
        if (j + 16 <= len) { m0 = Vector512.MaxNative(m0, Vector512.Load(row + j)); j += 16; }
        if (j < len) m1 = Vector512.MaxNative(m1, Vector512.Load(row + len - 16)); // overlaps, stays inside the row
        var m = Vector512.MaxNative(m0, m1);
        var h = Vector256.MaxNative(m.GetLower(), m.GetUpper());
        var x = Vector128.MaxNative(h.GetLower(), h.GetUpper());
        x = Vector128.MaxNative(x, Vector128.Shuffle(x, Vector128.Create(2, 3, 0, 1)));
        x = Vector128.MaxNative(x, Vector128.Shuffle(x, Vector128.Create(1, 0, 3, 2)));
        return x.ToScalar();
    }

    static float Max256(float* row, int len)
    {
        var m0 = Vector256.Load(row);
        var m1 = m0;
        int j = 8;
        for (; j + 16 <= len; j += 16)
        {
            m0 = Vector256.MaxNative(m0, Vector256.Load(row + j));
            m1 = Vector256.MaxNative(m1, Vector256.Load(row + j + 8));
        }
        if (j + 8 <= len) { m0 = Vector256.MaxNative(m0, Vector256.Load(row + j)); j += 8; }
        if (j < len) m1 = Vector256.MaxNative(m1, Vector256.Load(row + len - 8)); // overlaps, stays inside the row
        var h = Vector256.MaxNative(m0, m1);
        var x = Vector128.MaxNative(h.GetLower(), h.GetUpper());
        x = Vector128.MaxNative(x, Vector128.Shuffle(x, Vector128.Create(2, 3, 0, 1)));
        x = Vector128.MaxNative(x, Vector128.Shuffle(x, Vector128.Create(1, 0, 3, 2)));
        return x.ToScalar();
    }

    /// <summary>x[0..n) *= s.</summary>
    public static void Scale(float* x, int n, float s)
    {
        int j = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var v = Vector512.Create(s);
            for (; j + 16 <= n; j += 16) (Vector512.Load(x + j) * v).Store(x + j);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var v = Vector256.Create(s);
            for (; j + 8 <= n; j += 8) (Vector256.Load(x + j) * v).Store(x + j);
        }
        for (; j < n; j++) x[j] *= s;
    }

    /// <summary>Σ a[j]·b[j] over [0, n).</summary>
    public static float Dot(float* a, float* b, int n)
    {
        int j = 0;
        float sum = 0;
        if (Vector512.IsHardwareAccelerated && n >= 16)
        {
            var acc = Vector512<float>.Zero;
            for (; j + 16 <= n; j += 16) acc = Vector512.FusedMultiplyAdd(Vector512.Load(a + j), Vector512.Load(b + j), acc);
            sum = Vector512.Sum(acc);
        }
        else if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            var acc = Vector256<float>.Zero;
            for (; j + 8 <= n; j += 8) acc = Vector256.FusedMultiplyAdd(Vector256.Load(a + j), Vector256.Load(b + j), acc);
            sum = Vector256.Sum(acc);
        }
        for (; j < n; j++) sum += a[j] * b[j];
        return sum;
    }

    /// <summary>The softmax backward of one row: dp[j] = p[j]·(dp[j] − delta) over [0, n).</summary>
    public static void SoftmaxGrad(float* p, float* dp, int n, float delta)
    {
        int j = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var d = Vector512.Create(delta);
            for (; j + 16 <= n; j += 16) (Vector512.Load(p + j) * (Vector512.Load(dp + j) - d)).Store(dp + j);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var d = Vector256.Create(delta);
            for (; j + 8 <= n; j += 8) (Vector256.Load(p + j) * (Vector256.Load(dp + j) - d)).Store(dp + j);
        }
        for (; j < n; j++) dp[j] = p[j] * (dp[j] - delta);
    }

    /// <summary>
    /// row[j] = exp(row[j] − shift) for j &lt; len and returns their sum. Elements from len up to
    /// <see cref="Padded"/>(len) are overwritten with 0, so the row needs that much room.
    /// </summary>
    public static float ExpShifted(float* row, int len, float shift)
    {
        if (Vector512.IsHardwareAccelerated) return ExpShifted512(row, len, shift);
        if (Vector256.IsHardwareAccelerated) return ExpShifted256(row, len, shift);
        float sum = 0;
        for (int j = 0; j < len; j++) sum += row[j] = Exp(row[j] - shift);
        for (int j = len; j < Padded(len); j++) row[j] = 0;
        return sum;
    }

    static float Exp(float x) => x < Underflow ? 0f : MathF.Exp(x);

    static float ExpShifted512(float* row, int len, float shift)
    {
        var acc = Vector512<float>.Zero;
        var s = Vector512.Create(shift);
        var lane = Vector512.Create(0f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        int j = 0;
        for (; j + 16 <= len; j += 16)
        {
            var e = Exp512(Vector512.Load(row + j) - s);
            e.Store(row + j);
            acc += e;
        }
        if (j < len)
        {
            // The tail reads padding (any bits) and zeroes it.
            var keep = Vector512.LessThan(lane, Vector512.Create((float)(len - j)));
            var e = Vector512.ConditionalSelect(keep, Exp512(Vector512.Load(row + j) - s), Vector512<float>.Zero);
            e.Store(row + j);
            acc += e;
        }
        return Vector512.Sum(acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Exp512(Vector512<float> x)
    {
        var n = Vector512.Round(x * Vector512.Create(Log2E));
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Hi), x);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Lo), r);
        var p = Vector512.Create(C7);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(C6));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(C5));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(C4));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(C3));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(C2));
        p = Vector512.FusedMultiplyAdd(p, r * r, r + Vector512<float>.One);
        var twoN = Vector512.ShiftLeft(Vector512.ConvertToInt32Native(n) + Vector512.Create(127), 23).AsSingle();
        return Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512.Create(Underflow)), Vector512<float>.Zero, p * twoN);
    }

    static float ExpShifted256(float* row, int len, float shift)
    {
        var acc = Vector256<float>.Zero;
        var s = Vector256.Create(shift);
        var lane = Vector256.Create(0f, 1, 2, 3, 4, 5, 6, 7);
        int j = 0, end = Padded(len);
        for (; j + 8 <= len; j += 8)
        {
            var e = Exp256(Vector256.Load(row + j) - s);
            e.Store(row + j);
            acc += e;
        }
        for (; j < end; j += 8)
        {
            var keep = Vector256.LessThan(lane, Vector256.Create((float)(len - j)));
            var e = Vector256.ConditionalSelect(keep, Exp256(Vector256.Load(row + j) - s), Vector256<float>.Zero);
            e.Store(row + j);
            acc += e;
        }
        return Vector256.Sum(acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Exp256(Vector256<float> x)
    {
        var n = Vector256.Round(x * Vector256.Create(Log2E));
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Hi), x);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Lo), r);
        var p = Vector256.Create(C7);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(C6));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(C5));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(C4));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(C3));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(C2));
        p = Vector256.FusedMultiplyAdd(p, r * r, r + Vector256<float>.One);
        var twoN = Vector256.ShiftLeft(Vector256.ConvertToInt32Native(n) + Vector256.Create(127), 23).AsSingle();
        return Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256.Create(Underflow)), Vector256<float>.Zero, p * twoN);
    }
}
