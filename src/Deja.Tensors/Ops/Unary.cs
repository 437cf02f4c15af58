using System.Numerics.Tensors;
using Deja.Tensors.Kernels;

namespace Deja.Tensors;

// Elementwise math. Every backward is written with differentiable ops (so these support double
// backward); intermediates a backward creates are disposed as soon as they are consumed, which is
// safe even when recording because a node keeps its own reference to what it saved.
public static partial class Ops
{
    /// <summary>A new tensor y = kernel(x), computed in parallel fixed chunks when large. Records nothing.</summary>
    internal static Tensor UnaryMap(Tensor x, SpanMap kernel)
    {
        var o = Tensor.Empty(x.Shape);
        Unary.Map(x.Array, x.Offset, o.Array, o.Offset, x.Length, kernel);
        return o;
    }

    public static Tensor Exp(Tensor x)
    {
        var o = UnaryMap(x, static (a, y) => TensorPrimitives.Exp(a, y));
        return Autograd.Record(o, "exp", [x], g => [Mul(g, o)], o);
    }

    public static Tensor Log(Tensor x)
    {
        var o = UnaryMap(x, static (a, y) => TensorPrimitives.Log(a, y));
        return Autograd.Record(o, "log", [x], g => [Div(g, x)], x);
    }

    public static Tensor Sqrt(Tensor x)
    {
        var o = UnaryMap(x, static (a, y) => TensorPrimitives.Sqrt(a, y));
        // d√x = 1/(2√x)
        return Autograd.Record(o, "sqrt", [x], g =>
        {
            using var half = MulScalar(g, 0.5f);
            return [Div(half, o)];
        }, o);
    }

    /// <summary>1/√x.</summary>
    public static Tensor Rsqrt(Tensor x)
    {
        var o = UnaryMap(x, static (a, y) => TensorPrimitives.ReciprocalSqrt(a, y));
        // d x^(−1/2) = −x^(−3/2)/2 = −y³/2
        return Autograd.Record(o, "rsqrt", [x], g =>
        {
            using var y2 = Square(o);
            using var y3 = Mul(y2, o);
            using var d = MulScalar(y3, -0.5f);
            return [Mul(g, d)];
        }, o);
    }

    /// <summary>x^p elementwise (NaN for negative x and non-integer p, as in PyTorch).</summary>
    public static Tensor Pow(Tensor x, float p)
    {
        var o = p switch
        {
            1f => UnaryMap(x, static (a, y) => a.CopyTo(y)),
            2f => UnaryMap(x, static (a, y) => TensorPrimitives.Multiply(a, a, y)),
            0.5f => UnaryMap(x, static (a, y) => TensorPrimitives.Sqrt(a, y)),
            -0.5f => UnaryMap(x, static (a, y) => TensorPrimitives.ReciprocalSqrt(a, y)),
            -1f => UnaryMap(x, static (a, y) => TensorPrimitives.Reciprocal(a, y)),
            _ => UnaryMap(x, (a, y) => TensorPrimitives.Pow(a, p, y)),
        };
        return Autograd.Record(o, "pow", [x], g =>
        {
            // p = 0 has derivative 0 everywhere (p·x^(p−1) would give 0·∞ at x = 0).
            if (p == 0) return [Tensor.ZerosLike(x)];
            using var xp = Pow(x, p - 1);
            using var d = MulScalar(xp, p);
            return [Mul(g, d)];
        }, x);
    }

    public static Tensor Square(Tensor x)
    {
        var o = UnaryMap(x, static (a, y) => TensorPrimitives.Multiply(a, a, y));
        return Autograd.Record(o, "square", [x], g =>
        {
            using var twoX = MulScalar(x, 2f);
            return [Mul(g, twoX)];
        }, x);
    }

    /// <summary>|x|; the gradient is sign(x), 0 at 0 (as in PyTorch).</summary>
    public static Tensor Abs(Tensor x)
    {
        var o = UnaryMap(x, static (a, y) => TensorPrimitives.Abs(a, y));
        return Autograd.Record(o, "abs", [x], g =>
        {
            using var sign = UnaryMap(x, Unary.Sign);
            return [Mul(g, sign)];
        }, x);
    }

    /// <summary>
    /// Limits x to [min, max] (either bound may be omitted). The gradient passes where
    /// min ≤ x ≤ max and is 0 outside, as in PyTorch; with min &gt; max every element becomes max.
    /// </summary>
    public static Tensor Clamp(Tensor x, float? min = null, float? max = null)
    {
        if (min is null && max is null) throw new ArgumentException("clamp: give at least one of min and max");
        float lo = min ?? float.NegativeInfinity, hi = max ?? float.PositiveInfinity;
        var o = UnaryMap(x, (a, y) =>
        {
            if (min is not null) TensorPrimitives.Max(a, lo, y); else a.CopyTo(y);
            if (max is not null) TensorPrimitives.Min(y, hi, y);
        });
        return Autograd.Record(o, "clamp", [x], g =>
        {
            using var inside = UnaryMap(x, (a, y) => Unary.RangeMask(a, y, lo, hi));
            return [Mul(g, inside)];
        }, x);
    }

    /// <summary>The error function, accurate to about half a float ulp (see <see cref="ErfKernel"/>).</summary>
    public static Tensor Erf(Tensor x)
    {
        var o = UnaryMap(x, ErfKernel.Apply);
        // d erf(x) = 2/√π · exp(−x²)
        return Autograd.Record(o, "erf", [x], g =>
        {
            using var d = GaussianDensity(x, 2 / MathF.Sqrt(MathF.PI), 1f);
            return [Mul(g, d)];
        }, x);
    }

    /// <summary>The standard normal CDF Φ(x) = (1 + erf(x/√2))/2, accurate in both tails.</summary>
    public static Tensor NormalCdf(Tensor x)
    {
        var o = UnaryMap(x, ErfKernel.NormalCdf);
        return Autograd.Record(o, "normal_cdf", [x], g =>
        {
            using var pdf = NormalPdf(x);
            return [Mul(g, pdf)];
        }, x);
    }

    /// <summary>φ(x) = exp(−x²/2)/√(2π), differentiable.</summary>
    internal static Tensor NormalPdf(Tensor x) => GaussianDensity(x, 1 / MathF.Sqrt(2 * MathF.PI), 0.5f);

    /// <summary>scale · exp(−k·x²), built from differentiable ops.</summary>
    static Tensor GaussianDensity(Tensor x, float scale, float k)
    {
        using var x2 = Square(x);
        using var arg = MulScalar(x2, -k);
        using var e = Exp(arg);
        return MulScalar(e, scale);
    }
}
