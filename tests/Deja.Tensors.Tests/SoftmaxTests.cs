using Deja.Tensors.Tests.Support;

namespace Deja.Tensors.Tests;

public class SoftmaxTests
{
    public static TheoryData<int[], int> Cases => new()
    {
        { new[] { 5 }, 0 },
        { new[] { 3, 7 }, -1 },
        { new[] { 3, 7 }, 0 },
        { new[] { 2, 4, 3 }, 1 },
        { new[] { 2, 3, 1100 }, 1 },  // more columns than one column chunk
    };

    /// <summary>Reference softmax (or log-softmax) along dim by brute force in double.</summary>
    static double[] Naive(Tensor x, int dim, bool log)
    {
        int ax = dim < 0 ? dim + x.Rank : dim;
        int outer = x.Shape[..ax].Aggregate(1, (a, b) => a * b), n = x.Shape[ax], inner = x.Shape[(ax + 1)..].Aggregate(1, (a, b) => a * b);
        var d = x.ToArray();
        var o = new double[d.Length];
        for (int i = 0; i < outer; i++)
            for (int j = 0; j < inner; j++)
            {
                double m = double.NegativeInfinity;
                for (int k = 0; k < n; k++) m = Math.Max(m, d[(i * n + k) * inner + j]);
                double s = 0;
                for (int k = 0; k < n; k++) s += Math.Exp(d[(i * n + k) * inner + j] - m);
                for (int k = 0; k < n; k++)
                {
                    double v = d[(i * n + k) * inner + j] - m;
                    o[(i * n + k) * inner + j] = log ? v - Math.Log(s) : Math.Exp(v) / s;
                }
            }
        return o;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardMatchesDoubleReference(int[] shape, int dim)
    {
        var x = Ops.MulScalar(Rand.Normal(1, shape), 3f);
        Close.All(Naive(x, dim, false), Ops.Softmax(x, dim).ReadOnlySpan, 1e-5, 1e-7, "softmax");
        Close.All(Naive(x, dim, true), Ops.LogSoftmax(x, dim).ReadOnlySpan, 1e-5, 1e-5, "log_softmax");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void BackwardMatchesFiniteDifferences(int[] shape, int dim)
    {
        if (Shapes.Numel(shape) > 200) return;
        var x = Rand.Normal(2, shape).RequireGrad();
        GradCheck.Check(t => Ops.Softmax(t[0], dim), [x]);
        GradCheck.Check(t => Ops.LogSoftmax(t[0], dim), [x]);
        GradCheck.CheckSecondOrder(t => Ops.Softmax(t[0], dim), [x]);
        GradCheck.CheckSecondOrder(t => Ops.LogSoftmax(t[0], dim), [x]);
    }

    [Fact]
    public void LargeLogitsDoNotOverflow()
    {
        var x = Tensor.FromArray([1000f, 1001f, -1000f, 0f, 1e30f, -1e30f], 2, 3);
        var s = Ops.Softmax(x, 1).ToArray();
        Close.All(new[] { 1 / (1 + Math.E), Math.E / (1 + Math.E), 0, 0, 1, 0 }, s, 1e-6, 1e-7);
        var l = Ops.LogSoftmax(x, 1).ToArray();
        Assert.Equal(-Math.Log(1 + Math.E), l[0], 4);
        Assert.Equal(0f, l[4]);
        var t = Ops.Softmax(Ops.Transpose(x, 0, 1), 0).ToArray();
        Assert.Equal(s[1], t[2], 6);
    }

    [Fact]
    public void BadAxisNamesTheOp()
    {
        Assert.Contains("softmax", Assert.Throws<ArgumentOutOfRangeException>(() => Ops.Softmax(Tensor.Zeros(2, 3), 2)).Message);
        Assert.Contains("log_softmax", Assert.Throws<ArgumentOutOfRangeException>(() => Ops.LogSoftmax(Tensor.Zeros(2, 3), -3)).Message);
    }
}
