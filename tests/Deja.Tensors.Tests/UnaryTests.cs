using Deja.Tensors.Kernels;
using Deja.Tensors.Tests.Support;

namespace Deja.Tensors.Tests;

public class UnaryTests
{
    public static TheoryData<int[]> Shapes3 => new() { new[] { 7 }, new[] { 3, 5, 4 }, new[] { 2, 1, 300 } };

    static Tensor Positive(ulong seed, int[] shape) =>
        Tensor.FromArray(Rand.Normal(seed, shape).ToArray().Select(v => MathF.Abs(v) + 0.5f).ToArray(), shape);

    /// <summary>Normal values pushed at least 0.1 away from 0 (and from ±1, for clamp's kinks).</summary>
    static Tensor AwayFromKinks(ulong seed, int[] shape) =>
        Tensor.FromArray(Rand.Normal(seed, shape).ToArray().Select(v =>
        {
            foreach (var k in new[] { 0f, 1f, -1f }) if (MathF.Abs(v - k) < 0.1f) v = k + (v >= k ? 0.1f : -0.1f);
            return v;
        }).ToArray(), shape);

    [Theory]
    [MemberData(nameof(Shapes3))]
    public void ForwardMatchesDoubleReference(int[] shape)
    {
        var x = Rand.Normal(1, shape);
        var p = Positive(2, shape);
        Close.All(Reference.Map(x, Math.Exp), Ops.Exp(x).ReadOnlySpan, 2e-6, 1e-7, "exp");
        Close.All(Reference.Map(p, Math.Log), Ops.Log(p).ReadOnlySpan, 2e-6, 1e-7, "log");
        Close.All(Reference.Map(p, Math.Sqrt), Ops.Sqrt(p).ReadOnlySpan, 1e-6, 0, "sqrt");
        Close.All(Reference.Map(p, v => 1 / Math.Sqrt(v)), Ops.Rsqrt(p).ReadOnlySpan, 1e-6, 0, "rsqrt");
        foreach (var e in new[] { 2f, 3f, 0.5f, -0.5f, -1f, 1f, 0f, 1.7f, -2.3f })
            Close.All(Reference.Map(p, v => Math.Pow(v, e)), Ops.Pow(p, e).ReadOnlySpan, 2e-6, 1e-7, $"pow {e}");
        Close.All(Reference.Map(x, v => Math.Pow(v, 3)), Ops.Pow(x, 3).ReadOnlySpan, 2e-6, 1e-7, "pow 3 of negatives");
        Close.All(Reference.Map(x, Math.Abs), Ops.Abs(x).ReadOnlySpan, 0, 0, "abs");
        Close.All(Reference.Map(x, v => v * v), Ops.Square(x).ReadOnlySpan, 1e-6, 0, "square");
        Close.All(Reference.Map(x, Math.Tanh), Ops.Tanh(x).ReadOnlySpan, 2e-6, 1e-7, "tanh");
        Close.All(Reference.Map(x, Reference.Sigmoid), Ops.Sigmoid(x).ReadOnlySpan, 2e-6, 1e-7, "sigmoid");
        Close.All(Reference.Map(x, v => v * Reference.Sigmoid(v)), Ops.Silu(x).ReadOnlySpan, 2e-6, 1e-7, "silu");
        Close.All(Reference.Map(x, Reference.Gelu), Ops.Gelu(x).ReadOnlySpan, 2e-7, 1e-30, "gelu");
        Close.All(Reference.Map(x, Reference.GeluTanh), Ops.GeluTanh(x).ReadOnlySpan, 2e-6, 1e-7, "gelu_tanh");
        Close.All(Reference.Map(x, v => v * Reference.Sigmoid(1.702 * v)), Ops.QuickGelu(x).ReadOnlySpan, 2e-6, 1e-7, "quick_gelu");
        Close.All(Reference.Map(x, v => Math.Max(v, 0)), Ops.Relu(x).ReadOnlySpan, 0, 0, "relu");
        Close.All(Reference.Map(x, v => Math.Clamp(v, -0.5f, 0.7f)), Ops.Clamp(x, -0.5f, 0.7f).ReadOnlySpan, 0, 0, "clamp");
        Close.All(Reference.Map(x, v => Math.Max(v, 0.2f)), Ops.Clamp(x, min: 0.2f).ReadOnlySpan, 0, 0, "clamp min");
        Close.All(Reference.Map(x, v => Math.Min(v, 0.2f)), Ops.Clamp(x, max: 0.2f).ReadOnlySpan, 0, 0, "clamp max");
        Close.All(Reference.Map(x, Reference.Erf), Ops.Erf(x).ReadOnlySpan, 1.2e-7, 1e-30, "erf");
        Close.All(Reference.Map(x, Reference.NormalCdf), Ops.NormalCdf(x).ReadOnlySpan, 2e-7, 1e-30, "normal_cdf");
    }

    [Fact]
    public void ErfIsAccurateToAboutHalfAnUlp()
    {
        // A dense grid over the interesting range, the regime boundary (|x| = 1) and far tails.
        var values = new List<float>();
        for (float v = -7f; v <= 7f; v += 1.37e-3f) values.Add(v);
        foreach (var v in new[] { 0f, -0f, 1e-30f, -1e-20f, 1e-6f, 0.99999994f, 1f, 1.0000001f, -1f, 3.9f, 4.2f, 9f, 30f, 1e10f })
            values.Add(v);
        var x = Tensor.FromArray(values.ToArray(), values.Count);
        var erf = Ops.Erf(x).ToArray();
        var cdf = Ops.NormalCdf(x).ToArray();
        var gelu = Ops.Gelu(x).ToArray();
        double worstErf = 0, worstCdf = 0, worstGelu = 0;
        for (int i = 0; i < values.Count; i++)
        {
            double v = values[i];
            worstErf = Math.Max(worstErf, Rel(erf[i], Reference.Erf(v)));
            worstCdf = Math.Max(worstCdf, Rel(cdf[i], Reference.NormalCdf(v)));
            worstGelu = Math.Max(worstGelu, Rel(gelu[i], Reference.Gelu(v)));
        }
        Assert.True(worstErf <= 1e-7, $"erf worst relative error {worstErf:G3}");
        // Φ and GELU in the left tail are erfc-sized; there float exp's ~1.2 ulp error shows.
        Assert.True(worstCdf <= 2e-7, $"normal cdf worst relative error {worstCdf:G3}");
        Assert.True(worstGelu <= 2e-7, $"gelu worst relative error {worstGelu:G3}");
        // The double-precision form of the same approximation is far more accurate than float needs.
        for (double v = -6; v <= 6; v += 0.01)
            Assert.True(Rel(ErfKernel.Scalar(v), Reference.Erf(v)) < 1e-9, $"scalar erf at {v}");
    }

    static double Rel(double got, double want) => want == 0 ? Math.Abs(got) : Math.Abs(got - want) / Math.Abs(want);

    [Fact]
    public void SpecialValuesFollowPyTorch()
    {
        var x = Tensor.FromArray([float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f], 4);
        var erf = Ops.Erf(x).ToArray();
        Assert.True(float.IsNaN(erf[0]));
        Assert.Equal(new[] { 1f, -1f, 0f }, erf[1..]);
        var gelu = Ops.Gelu(x).ToArray();
        Assert.True(float.IsNaN(gelu[0]));
        Assert.Equal(float.PositiveInfinity, gelu[1]);
        Assert.Equal(0f, gelu[3]);
        Assert.True(float.IsNaN(Ops.Relu(x).ToArray()[0]));
        // The left tail of GELU keeps its relative accuracy (no 1 + erf cancellation).
        var tail = Ops.Gelu(Tensor.FromArray([-9f], 1)).Item();
        Assert.Equal(Reference.Gelu(-9), tail, Math.Abs(Reference.Gelu(-9)) * 2e-7);
    }

    [Theory]
    [MemberData(nameof(Shapes3))]
    public void BackwardMatchesFiniteDifferences(int[] shape)
    {
        var x = AwayFromKinks(3, shape).RequireGrad();
        var p = Positive(4, shape).RequireGrad();
        GradCheck.Check(t => Ops.Exp(t[0]), [x]);
        GradCheck.Check(t => Ops.Log(t[0]), [p]);
        GradCheck.Check(t => Ops.Sqrt(t[0]), [p]);
        GradCheck.Check(t => Ops.Rsqrt(t[0]), [p]);
        foreach (var e in new[] { 2f, 3f, 0.5f, -1f, 0f, 1.7f })
            GradCheck.Check(t => Ops.Pow(t[0], e), [p]);
        GradCheck.Check(t => Ops.Abs(t[0]), [x]);
        GradCheck.Check(t => Ops.Square(t[0]), [x]);
        GradCheck.Check(t => Ops.Tanh(t[0]), [x]);
        GradCheck.Check(t => Ops.Sigmoid(t[0]), [x]);
        GradCheck.Check(t => Ops.Silu(t[0]), [x]);
        GradCheck.Check(t => Ops.Gelu(t[0]), [x]);
        GradCheck.Check(t => Ops.GeluTanh(t[0]), [x]);
        GradCheck.Check(t => Ops.QuickGelu(t[0]), [x]);
        GradCheck.Check(t => Ops.Relu(t[0]), [x]);
        GradCheck.Check(t => Ops.Clamp(t[0], -1f, 1f), [x]);
        GradCheck.Check(t => Ops.Erf(t[0]), [x]);
        GradCheck.Check(t => Ops.NormalCdf(t[0]), [x]);
    }

    [Fact]
    public void DoubleBackwardMatchesFiniteDifferences()
    {
        var x = AwayFromKinks(5, [3, 4]).RequireGrad();
        var p = Positive(6, [3, 4]).RequireGrad();
        GradCheck.CheckSecondOrder(t => Ops.Exp(t[0]), [x]);
        GradCheck.CheckSecondOrder(t => Ops.Log(t[0]), [p]);
        GradCheck.CheckSecondOrder(t => Ops.Sqrt(t[0]), [p]);
        GradCheck.CheckSecondOrder(t => Ops.Rsqrt(t[0]), [p]);
        GradCheck.CheckSecondOrder(t => Ops.Pow(t[0], 2.5f), [p]);
        GradCheck.CheckSecondOrder(t => Ops.Pow(t[0], -1f), [p]);
        GradCheck.CheckSecondOrder(t => Ops.Tanh(t[0]), [x]);
        GradCheck.CheckSecondOrder(t => Ops.Sigmoid(t[0]), [x]);
        GradCheck.CheckSecondOrder(t => Ops.Silu(t[0]), [x]);
        GradCheck.CheckSecondOrder(t => Ops.Gelu(t[0]), [x]);
        GradCheck.CheckSecondOrder(t => Ops.GeluTanh(t[0]), [x]);
        GradCheck.CheckSecondOrder(t => Ops.QuickGelu(t[0]), [x]);
        GradCheck.CheckSecondOrder(t => Ops.Erf(t[0]), [x]);
        // Piecewise-linear ops have zero second derivative; mixing with a square checks their graph links.
        GradCheck.CheckSecondOrder(t => Ops.Square(Ops.Relu(t[0])), [x]);
        GradCheck.CheckSecondOrder(t => Ops.Mul(Ops.Abs(t[0]), Ops.Clamp(t[0], -1f, 1f)), [x]);
    }

    [Fact]
    public void PowZeroHasZeroGradientEvenAtZero()
    {
        var x = Tensor.FromArray([0f, 2f, -3f], 3).RequireGrad();
        Ops.Sum(Ops.Pow(x, 0f)).Backward();
        Assert.Equal(new[] { 0f, 0f, 0f }, x.Grad!.ToArray());
    }

    [Fact]
    public void ClampWithoutBoundsIsRejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => Ops.Clamp(Tensor.Zeros(2)));
        Assert.Contains("clamp", ex.Message);
    }

    [Fact]
    public void LargeTensorsRunInParallelChunks()
    {
        // Above the parallel threshold, with a length that is not a multiple of the chunk or of 16.
        int n = Unary.Chunk * 3 + 5;
        var x = Rand.Normal(9, n);
        var y = Ops.Gelu(x).ToArray();
        var xs = x.ToArray();
        for (int i = 0; i < n; i += 997) Assert.Equal(Reference.Gelu(xs[i]), y[i], Math.Abs(Reference.Gelu(xs[i])) * 2e-7 + 1e-30);
        Assert.Equal(Reference.Gelu(xs[^1]), y[^1], Math.Abs(Reference.Gelu(xs[^1])) * 2e-7 + 1e-30);
    }
}

/// <summary>Every SIMD path of the erf kernel against the scalar one. Switching the process-wide path must
/// not race with tests that compare runs bit for bit, hence the serial collection.</summary>
[Collection(ThreadSensitive.Name)]
public class ErfPathTests
{
    [SimdFact(SimdPath.Vector)]
    public void VectorPathAgreesWithTheScalarPath() => PathAgreesWithScalar(SimdPath.Vector);

    [SimdFact(SimdPath.Vector512)]
    public void Vector512PathAgreesWithTheScalarPath() => PathAgreesWithScalar(SimdPath.Vector512);

    [Fact]
    public void ScalarPathMatchesTheReference()
    {
        var x = Ops.MulScalar(Rand.Normal(12, 1000), 3f);
        var xs = x.ToArray();
        var expected = xs.Select(v => Reference.Erf(v)).Concat(xs.Select(v => Reference.NormalCdf(v))).Concat(xs.Select(v => Reference.Gelu(v))).ToArray();
        Close.All(expected, ErfOn(SimdPath.Scalar, x), 2e-7, 1e-30, "scalar path");
    }

    static void PathAgreesWithScalar(SimdPath path)
    {
        // 1000 is not a multiple of any width, so the padded tail block is covered too
        var x = Ops.MulScalar(Rand.Normal(12, 1000), 3f);
        Close.All(ErfOn(path, x), ErfOn(SimdPath.Scalar, x), 4e-7, 1e-30, $"{path} vs scalar");
    }

    static float[] ErfOn(SimdPath path, Tensor x)
    {
        var old = ErfKernel.Path;
        ErfKernel.Path = path;
        try { return [.. Ops.Erf(x).ToArray(), .. Ops.NormalCdf(x).ToArray(), .. Ops.Gelu(x).ToArray()]; }
        finally { ErfKernel.Path = old; }
    }
}
