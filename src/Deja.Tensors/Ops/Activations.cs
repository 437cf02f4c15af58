using System.Numerics.Tensors;
using Deja.Tensors.Kernels;

namespace Deja.Tensors;

// Activation functions; backward passes are differentiable (double backward works).
public static partial class Ops
{
    public static Tensor Tanh(Tensor x)
    {
        var o = UnaryMap(x, static (a, y) => TensorPrimitives.Tanh(a, y));
        // d tanh = 1 − y²
        return Autograd.Record(o, "tanh", [x], g =>
        {
            using var y2 = Square(o);
            using var d = RSub(1f, y2);
            return [Mul(g, d)];
        }, o);
    }

    public static Tensor Sigmoid(Tensor x)
    {
        var o = UnaryMap(x, static (a, y) => TensorPrimitives.Sigmoid(a, y));
        return Autograd.Record(o, "sigmoid", [x], g =>
        {
            using var d = SigmoidSlope(o);
            return [Mul(g, d)];
        }, o);
    }

    /// <summary>σ(1 − σ) from σ, differentiable.</summary>
    static Tensor SigmoidSlope(Tensor s)
    {
        using var oneMinus = RSub(1f, s);
        return Mul(s, oneMinus);
    }

    /// <summary>x·σ(x) (a.k.a. swish).</summary>
    public static Tensor Silu(Tensor x)
    {
        var o = UnaryMap(x, Unary.Silu);
        // d = σ + x·σ(1 − σ)
        return Autograd.Record(o, "silu", [x], g =>
        {
            using var s = Sigmoid(x);
            using var d = SigmoidGateSlope(x, s, 1f);
            return [Mul(g, d)];
        }, x);
    }

    /// <summary>d/dx of x·σ(a·x) given s = σ(a·x): s + a·x·s(1 − s).</summary>
    static Tensor SigmoidGateSlope(Tensor x, Tensor s, float a)
    {
        using var slope = SigmoidSlope(s);
        using var xs = Mul(x, slope);
        using var scaled = a == 1f ? null : MulScalar(xs, a);
        return Add(s, scaled ?? xs);
    }

    /// <summary>Exact GELU, x·Φ(x) (PyTorch's gelu with approximate="none").</summary>
    public static Tensor Gelu(Tensor x)
    {
        var o = UnaryMap(x, ErfKernel.Gelu);
        // d = Φ(x) + x·φ(x)
        return Autograd.Record(o, "gelu", [x], g =>
        {
            using var cdf = NormalCdf(x);
            using var pdf = NormalPdf(x);
            using var xpdf = Mul(x, pdf);
            using var d = Add(cdf, xpdf);
            return [Mul(g, d)];
        }, x);
    }

    /// <summary>GELU's tanh approximation, 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))) (PyTorch's approximate="tanh").</summary>
    public static Tensor GeluTanh(Tensor x)
    {
        var o = UnaryMap(x, Unary.GeluTanh);
        // y = x·σ(z) with z = 2k(x + c·x³): d = σ(z) + x·σ(z)(1 − σ(z))·2k(1 + 3c·x²)
        return Autograd.Record(o, "gelu_tanh", [x], g =>
        {
            const float k = Unary.GeluTanhK, c = Unary.GeluTanhC;
            using var x2 = Square(x);
            using var x3 = Mul(x2, x);
            using var cx3 = MulScalar(x3, c);
            using var inner = Add(x, cx3);
            using var z = MulScalar(inner, 2 * k);
            using var s = Sigmoid(z);
            using var slope = SigmoidSlope(s);
            using var dz = MulScalar(x2, 3 * c * 2 * k);
            using var dzdx = AddScalar(dz, 2 * k);
            using var chain = Mul(slope, dzdx);
            using var xchain = Mul(x, chain);
            using var d = Add(s, xchain);
            return [Mul(g, d)];
        }, x);
    }

    /// <summary>x·σ(1.702x), the GELU approximation of OpenAI's CLIP ("quick_gelu").</summary>
    public static Tensor QuickGelu(Tensor x)
    {
        var o = UnaryMap(x, Unary.QuickGelu);
        return Autograd.Record(o, "quick_gelu", [x], g =>
        {
            using var ax = MulScalar(x, Unary.QuickGeluScale);
            using var s = Sigmoid(ax);
            using var d = SigmoidGateSlope(x, s, Unary.QuickGeluScale);
            return [Mul(g, d)];
        }, x);
    }

    /// <summary>max(x, 0); the gradient is 1 where x &gt; 0 and 0 elsewhere (including x = 0).</summary>
    public static Tensor Relu(Tensor x)
    {
        var o = UnaryMap(x, static (a, y) => TensorPrimitives.Max(a, 0f, y));
        return Autograd.Record(o, "relu", [x], g =>
        {
            using var mask = UnaryMap(x, Unary.PositiveMask);
            return [Mul(g, mask)];
        }, x);
    }
}
