using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
namespace Deja.Tensors.Kernels;

/// <summary>
/// GEGLU's activation in one pass: out = value · gelu(gate), gelu(x) = x·Φ(x) with the exact (erf)
/// GELU. Φ(x) = erfc(−x/√2)/2 is evaluated in float with the Chebyshev-fitted erfc of Numerical
/// Recipes (erfc(a) = t·exp(−a² + P(t)), t = 1/(1 + a/2), relative error below 1.2e-7 for every a ≥ 0),
/// so Φ keeps its relative precision in both tails. It is several times faster than a double-precision
/// erf, which matters because the UNet evaluates it some 10⁸ times per forward. The Vector512,
/// Vector&lt;T&gt; (AVX2: 8 lanes, NEON: 4) and scalar paths evaluate the same float formula.
/// The UNet's inference forward, the differentiable forward (<see cref="Ops.GatedGelu"/>) and its
/// backward all use it, so a gradient is taken through the very values generation computes.
/// </summary>
public static class GegluKernel
{
    const float InvSqrt2 = 0.70710678118654752f, InvSqrt2Pi = 0.3989422804014327f;
    const float C0 = -1.26551223f, C1 = 1.00002368f, C2 = 0.37409196f, C3 = 0.09678418f, C4 = -0.18628806f,
        C5 = 0.27886807f, C6 = -1.13520398f, C7 = 1.48851587f, C8 = -0.82215223f, C9 = 0.17087277f;

    static SimdPath path = Simd.Best;

    /// <summary>The instruction width in use (default: the widest the CPU runs); tests switch it.</summary>
    internal static SimdPath Path { get => path; set => path = Simd.Check(value); }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Apply(ReadOnlySpan<float> value, ReadOnlySpan<float> gate, Span<float> output)
    {
        int n = output.Length, i = 0;
        if (path == SimdPath.Vector)
            for (; i <= n - Vector<float>.Count; i += Vector<float>.Count)
            {
                var g = new Vector<float>(gate.Slice(i, Vector<float>.Count));
                var v = new Vector<float>(value.Slice(i, Vector<float>.Count));
                (v * g * Phi(g)).CopyTo(output.Slice(i, Vector<float>.Count));
            }
        else if (path == SimdPath.Vector512)
            for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                var g = Vector512.Create(gate.Slice(i, Vector512<float>.Count));
                var v = Vector512.Create(value.Slice(i, Vector512<float>.Count));
                Phi(g, out var phi);
                (v * g * phi).CopyTo(output.Slice(i, Vector512<float>.Count));
            }
        for (; i < n; i++) output[i] = value[i] * gate[i] * Phi(gate[i]);
    }

    /// <summary>
    /// The adjoint of <see cref="Apply"/>: dValue = g·gelu(gate), dGate = g·value·(Φ(gate) + gate·φ(gate)),
    /// φ(x) = exp(−x²/2)/√(2π), in one pass.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(ReadOnlySpan<float> value, ReadOnlySpan<float> gate, ReadOnlySpan<float> grad, Span<float> dValue, Span<float> dGate)
    {
        int n = grad.Length, i = 0;
        if (path == SimdPath.Vector)
        {
            int w = Vector<float>.Count;
            for (; i <= n - w; i += w)
            {
                var x = new Vector<float>(gate.Slice(i, w));
                var v = new Vector<float>(value.Slice(i, w));
                var g = new Vector<float>(grad.Slice(i, w));
                var phi = Phi(x);
                var pdf = Vector.Exp(x * x * new Vector<float>(-0.5f)) * new Vector<float>(InvSqrt2Pi);
                (g * x * phi).CopyTo(dValue.Slice(i, w));
                (g * v * Vector.FusedMultiplyAdd(x, pdf, phi)).CopyTo(dGate.Slice(i, w));
            }
        }
        else if (path == SimdPath.Vector512)
        {
            int w = Vector512<float>.Count;
            for (; i <= n - w; i += w)
            {
                var x = Vector512.Create(gate.Slice(i, w));
                var v = Vector512.Create(value.Slice(i, w));
                var g = Vector512.Create(grad.Slice(i, w));
                Phi(x, out var phi);
                var pdf = Vector512.Exp(x * x * Vector512.Create(-0.5f)) * Vector512.Create(InvSqrt2Pi);
                (g * x * phi).CopyTo(dValue.Slice(i, w));
                (g * v * Vector512.FusedMultiplyAdd(x, pdf, phi)).CopyTo(dGate.Slice(i, w));
            }
        }
        for (; i < n; i++)
        {
            float x = gate[i], phi = Phi(x), pdf = MathF.Exp(x * x * -0.5f) * InvSqrt2Pi;
            dValue[i] = grad[i] * x * phi;
            dGate[i] = grad[i] * value[i] * MathF.FusedMultiplyAdd(x, pdf, phi);
        }
    }

    /// <summary>Φ(x) for 16 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Phi(Vector512<float> x, out Vector512<float> phi)
    {
        var one = Vector512<float>.One;
        var a = Vector512.Abs(x) * InvSqrt2;
        var t = one / Vector512.FusedMultiplyAdd(a, Vector512.Create(0.5f), one);
        var p = Vector512.FusedMultiplyAdd(t, Vector512.Create(C9), Vector512.Create(C8));
        p = Vector512.FusedMultiplyAdd(t, p, Vector512.Create(C7));
        p = Vector512.FusedMultiplyAdd(t, p, Vector512.Create(C6));
        p = Vector512.FusedMultiplyAdd(t, p, Vector512.Create(C5));
        p = Vector512.FusedMultiplyAdd(t, p, Vector512.Create(C4));
        p = Vector512.FusedMultiplyAdd(t, p, Vector512.Create(C3));
        p = Vector512.FusedMultiplyAdd(t, p, Vector512.Create(C2));
        p = Vector512.FusedMultiplyAdd(t, p, Vector512.Create(C1));
        p = Vector512.FusedMultiplyAdd(t, p, Vector512.Create(C0));
        // half of erfc(|x|/√2): Φ(x) for x ≤ 0, 1 − Φ(x) for x > 0
        var tail = Vector512.Create(0.5f) * t * Vector512.Exp(p - a * a);
        phi = Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<float>.Zero), one - tail, tail);
    }

    /// <summary>Φ(x) at Vector&lt;T&gt; width: the same operations as the 16-lane version.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector<float> Phi(Vector<float> x)
    {
        var one = Vector<float>.One;
        var a = Vector.Abs(x) * InvSqrt2;
        var t = one / Vector.FusedMultiplyAdd(a, new Vector<float>(0.5f), one);
        var p = Vector.FusedMultiplyAdd(t, new Vector<float>(C9), new Vector<float>(C8));
        p = Vector.FusedMultiplyAdd(t, p, new Vector<float>(C7));
        p = Vector.FusedMultiplyAdd(t, p, new Vector<float>(C6));
        p = Vector.FusedMultiplyAdd(t, p, new Vector<float>(C5));
        p = Vector.FusedMultiplyAdd(t, p, new Vector<float>(C4));
        p = Vector.FusedMultiplyAdd(t, p, new Vector<float>(C3));
        p = Vector.FusedMultiplyAdd(t, p, new Vector<float>(C2));
        p = Vector.FusedMultiplyAdd(t, p, new Vector<float>(C1));
        p = Vector.FusedMultiplyAdd(t, p, new Vector<float>(C0));
        var tail = new Vector<float>(0.5f) * t * Vector.Exp(p - a * a);
        return Vector.ConditionalSelect(Vector.GreaterThan(x, Vector<float>.Zero), one - tail, tail);
    }

    static float Phi(float x)
    {
        float a = MathF.Abs(x) * InvSqrt2, t = 1f / (1f + 0.5f * a);
        float p = C0 + t * (C1 + t * (C2 + t * (C3 + t * (C4 + t * (C5 + t * (C6 + t * (C7 + t * (C8 + t * C9))))))));
        float tail = 0.5f * t * MathF.Exp(p - a * a);
        return x > 0 ? 1f - tail : tail;
    }
}
