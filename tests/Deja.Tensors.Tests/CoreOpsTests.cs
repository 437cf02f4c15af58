using Deja.Tensors.Tests.Support;

namespace Deja.Tensors.Tests;

public class CoreOpsTests
{
    static double[] NaiveBinary(Func<double, double, double> f, Tensor a, Tensor b, int[] outShape)
    {
        var o = new double[Shapes.Numel(outShape)];
        var sa = Kernels.Elementwise.BroadcastStrides(a.Shape, outShape);
        var sb = Kernels.Elementwise.BroadcastStrides(b.Shape, outShape);
        var idx = new int[outShape.Length];
        for (int i = 0; i < o.Length; i++)
        {
            int rem = i, ia = 0, ib = 0;
            for (int d = outShape.Length - 1; d >= 0; d--) { int c = rem % outShape[d]; rem /= outShape[d]; ia += c * sa[d]; ib += c * sb[d]; }
            o[i] = f(a.ReadOnlySpan[ia], b.ReadOnlySpan[ib]);
        }
        return o;
    }

    public static TheoryData<int[], int[]> BroadcastPairs => new()
    {
        { new[] { 3, 4 }, new[] { 3, 4 } },
        { new[] { 2, 3, 4 }, new[] { 4 } },
        { new[] { 2, 3, 4 }, new[] { 3, 1 } },
        { new[] { 2, 1, 4 }, new[] { 1, 5, 1 } },
        { new[] { 1 }, new[] { 2, 3 } },
        { new[] { 2, 4, 5, 6 }, new[] { 2, 4, 1, 1 } },
        { new[] { 300, 257 }, new[] { 300, 1 } },
    };

    [Theory]
    [MemberData(nameof(BroadcastPairs))]
    public void BinaryOpsBroadcastLikeNumpy(int[] sa, int[] sb)
    {
        var a = Rand.Normal(1, sa); var b = Rand.Normal(2, sb);
        var bPos = Tensor.FromArray(b.ToArray().Select(v => MathF.Abs(v) + 0.5f).ToArray(), sb);
        var shape = Shapes.Broadcast(sa, sb, "test");
        Close.All(NaiveBinary((x, y) => x + y, a, b, shape), Ops.Add(a, b).ReadOnlySpan);
        Close.All(NaiveBinary((x, y) => x - y, a, b, shape), Ops.Sub(a, b).ReadOnlySpan);
        Close.All(NaiveBinary((x, y) => y - x, a, b, shape), Ops.Sub(b, a).ReadOnlySpan);
        Close.All(NaiveBinary((x, y) => x * y, a, b, shape), Ops.Mul(a, b).ReadOnlySpan);
        Close.All(NaiveBinary((x, y) => x / y, a, bPos, shape), Ops.Div(a, bPos).ReadOnlySpan);
        Close.All(NaiveBinary((x, y) => x / y, bPos, a, shape), Ops.Div(bPos, a).ReadOnlySpan, 1e-4, 1e-5);
        Close.All(NaiveBinary(Math.Max, a, b, shape), Ops.Maximum(a, b).ReadOnlySpan);
    }

    [Theory]
    [MemberData(nameof(BroadcastPairs))]
    public void BinaryOpsBackwardMatchesFiniteDifferences(int[] sa, int[] sb)
    {
        if (Shapes.Numel(sa) > 1000) return; // the FD loop is quadratic; covered by the smaller shapes
        var a = Rand.Normal(3, sa).RequireGrad();
        var b = Tensor.FromArray(Rand.Normal(4, sb).ToArray().Select(v => MathF.Abs(v) + 0.5f).ToArray(), sb).RequireGrad();
        GradCheck.Check(x => Ops.Add(x[0], x[1]), [a, b]);
        GradCheck.Check(x => Ops.Sub(x[0], x[1]), [a, b]);
        GradCheck.Check(x => Ops.Mul(x[0], x[1]), [a, b]);
        GradCheck.Check(x => Ops.Div(x[0], x[1]), [a, b]);
        GradCheck.Check(x => Ops.RDiv(2f, x[0]), [b]);
        GradCheck.Check(x => Ops.RSub(2f, x[0]) * 3f + 1f, [a]);
    }

    [Fact]
    public void BroadcastErrorNamesOpAndShapes()
    {
        var ex = Assert.Throws<ArgumentException>(() => Ops.Add(Tensor.Zeros(2, 3), Tensor.Zeros(4)));
        Assert.Contains("add", ex.Message);
        Assert.Contains("[2,3]", ex.Message);
        Assert.Contains("[4]", ex.Message);
    }

    [Fact]
    public void SumOverDims()
    {
        var a = Rand.Normal(5, 2, 3, 4);
        var d = a.ToArray();
        var s1 = Ops.Sum(a, [1]);
        Assert.Equal(new[] { 2, 4 }, s1.Shape);
        for (int i = 0; i < 2; i++) for (int k = 0; k < 4; k++)
            Assert.Equal(d[i * 12 + k] + d[i * 12 + 4 + k] + d[i * 12 + 8 + k], s1[i, k], 5);
        var s02 = Ops.Sum(a, [0, 2], keepDim: true);
        Assert.Equal(new[] { 1, 3, 1 }, s02.Shape);
        Assert.Equal(d.Sum(), Ops.Sum(a).Item(), 4);
        GradCheck.Check(x => Ops.Sum(x[0], [0, 2]), [a.RequireGrad()]);
    }

    [Fact]
    public void ReshapeIsAViewAndDifferentiable()
    {
        var a = Rand.Normal(6, 2, 6).RequireGrad();
        var r = a.Reshape(3, -1);
        Assert.Equal(new[] { 3, 4 }, r.Shape);
        Assert.Same(a.Array, r.Array);
        GradCheck.Check(x => Ops.Mul(x[0].Reshape(4, 3), x[0].Reshape(4, 3)), [a]);
        Assert.Throws<ArgumentException>(() => a.Reshape(5, -1));
    }
}
