using Deja.Tensors.Tests.Support;

namespace Deja.Tensors.Tests;

public class ReductionTests
{
    /// <summary>Shapes with dims to reduce: adjacent runs, split runs (the permuted path), size-1 dims, all.</summary>
    public static TheoryData<int[], int[]> Cases => new()
    {
        { new[] { 5 }, new int[0] },
        { new[] { 3, 4 }, new[] { 1 } },
        { new[] { 3, 4 }, new[] { 0 } },
        { new[] { 2, 3, 4 }, new[] { 0, 2 } },
        { new[] { 2, 3, 4 }, new[] { -1, -2 } },
        { new[] { 2, 1, 3, 5 }, new[] { 1, 2 } },
        { new[] { 3, 2, 1, 4 }, new[] { 0, 3 } },
        { new[] { 2, 3, 4, 5 }, new[] { 1, 3 } },
        { new[] { 4, 3, 2 }, new int[0] },
        { new[] { 6, 70 }, new[] { 0 } },
    };

    static double Mean(double[] v) => v.Average();
    static double Var(double[] v, int ddof) { double m = v.Average(); return v.Sum(t => (t - m) * (t - m)) / (v.Length - ddof); }
    static double Lse(double[] v) { double m = v.Max(); return m + Math.Log(v.Sum(t => Math.Exp(t - m))); }

    static int[] OutShape(int[] shape, int[] dims, bool keepDim)
    {
        var reduced = new bool[shape.Length];
        if (dims.Length == 0) Array.Fill(reduced, true);
        foreach (var d in dims) reduced[d < 0 ? d + shape.Length : d] = true;
        return keepDim ? shape.Select((s, i) => reduced[i] ? 1 : s).ToArray() : shape.Where((_, i) => !reduced[i]).ToArray();
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardMatchesDoubleReference(int[] shape, int[] dims)
    {
        var x = Rand.Normal(1, shape);
        foreach (var keep in new[] { false, true })
        {
            var outShape = OutShape(shape, dims, keep);
            void Check(Tensor got, Func<double[], double> f, string what, double rtol = 1e-5, double atol = 1e-6)
            {
                Assert.Equal(outShape, got.Shape);
                Close.All(Reference.Reduce(x, dims, f), got.ReadOnlySpan, rtol, atol, what);
            }
            Check(Ops.Sum(x, dims, keep), v => v.Sum(), "sum");
            Check(Ops.Mean(x, dims, keep), Mean, "mean");
            Check(Ops.Var(x, dims, unbiased: true, keep), v => Var(v, 1), "var", 1e-4, 1e-5);
            Check(Ops.Var(x, dims, unbiased: false, keep), v => Var(v, 0), "population var", 1e-4, 1e-5);
            Check(Ops.Max(x, dims, keep), v => v.Max(), "max", 0, 0);
            Check(Ops.Min(x, dims, keep), v => v.Min(), "min", 0, 0);
            Check(Ops.LogSumExp(x, dims, keep), Lse, "logsumexp");
            Check(Ops.Norm(x, dims, keep), v => Math.Sqrt(v.Sum(t => t * t)), "norm");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void BackwardMatchesFiniteDifferences(int[] shape, int[] dims)
    {
        if (Shapes.Numel(shape) > 200) return; // the finite-difference loop is quadratic; smaller shapes cover the code
        // Distinct values (no ties) spaced well beyond the finite-difference step, so max/min are smooth.
        var n = Shapes.Numel(shape);
        var perm = Enumerable.Range(0, n).OrderBy(i => (i * 7919) % n).ToArray();
        var distinct = Tensor.FromArray(perm.Select(i => (i - n / 2f) * 0.05f).ToArray(), shape).RequireGrad();
        var x = Rand.Normal(2, shape).RequireGrad();
        GradCheck.Check(t => Ops.Sum(t[0], dims), [x]);
        GradCheck.Check(t => Ops.Mean(t[0], dims, keepDim: true), [x]);
        GradCheck.Check(t => Ops.Var(t[0], dims), [x]);
        GradCheck.Check(t => Ops.Var(t[0], dims, unbiased: false, keepDim: true), [x]);
        GradCheck.Check(t => Ops.Max(t[0], dims), [distinct]);
        GradCheck.Check(t => Ops.Min(t[0], dims, keepDim: true), [distinct]);
        GradCheck.Check(t => Ops.LogSumExp(t[0], dims), [x]);
        GradCheck.Check(t => Ops.Norm(t[0], dims), [x]);
    }

    [Fact]
    public void DoubleBackwardMatchesFiniteDifferences()
    {
        var x = Rand.Normal(3, 3, 4).RequireGrad();
        GradCheck.CheckSecondOrder(t => Ops.Square(Ops.Mean(t[0], [1])), [x]);
        GradCheck.CheckSecondOrder(t => Ops.Var(t[0], [0]), [x]);
        GradCheck.CheckSecondOrder(t => Ops.Var(t[0]), [x]);
        GradCheck.CheckSecondOrder(t => Ops.LogSumExp(t[0], [1]), [x]);
        GradCheck.CheckSecondOrder(t => Ops.LogSumExp(t[0], []), [x]);
        GradCheck.CheckSecondOrder(t => Ops.Norm(t[0], [1]), [x]);
        GradCheck.CheckSecondOrder(t => Ops.Norm(t[0]), [x]);
        GradCheck.CheckSecondOrder(t => Ops.Square(Ops.Max(t[0], [1])), [x]);
        GradCheck.CheckSecondOrder(t => Ops.Mul(Ops.Sum(t[0], [0]), Ops.Sum(t[0], [0])), [x]);
    }

    [Fact]
    public void MaxAndMinSendTheGradientToTheFirstOfTies()
    {
        var x = Tensor.FromArray([1f, 3f, 3f, 0f, -2f, 5f, -2f, 5f], 2, 4).RequireGrad();
        Ops.Sum(Ops.Max(x, [1])).Backward();
        Assert.Equal(new[] { 0f, 1f, 0f, 0f, 0f, 1f, 0f, 0f }, x.Grad!.ToArray());
        x.ZeroGrad();
        Ops.Sum(Ops.Min(x, [1])).Backward();
        Assert.Equal(new[] { 0f, 0f, 0f, 1f, 1f, 0f, 0f, 0f }, x.Grad!.ToArray());
        x.ZeroGrad();
        // Over the first dim (strided groups) and over everything.
        var y = Tensor.FromArray([2f, 7f, 2f, 7f, 1f, 7f], 3, 2).RequireGrad();
        Ops.Sum(Ops.Max(y, [0])).Backward();
        Assert.Equal(new[] { 1f, 1f, 0f, 0f, 0f, 0f }, y.Grad!.ToArray());
        y.ZeroGrad();
        Ops.Max(y).Backward();
        Assert.Equal(new[] { 0f, 1f, 0f, 0f, 0f, 0f }, y.Grad!.ToArray());
        // Split reduced dims take the permuted path; first means first in row-major order of the group.
        var z = Tensor.FromArray([4f, 1f, 9f, 1f, 0f, 4f, 2f, 9f], 2, 2, 2).RequireGrad();
        Ops.Sum(Ops.Max(z, [0, 2])).Backward();
        Assert.Equal(new[] { 1f, 0f, 1f, 0f, 0f, 0f, 0f, 0f }, z.Grad!.ToArray());
    }

    [Fact]
    public void MaxPropagatesNaN()
    {
        var x = Tensor.FromArray([1f, float.NaN, 3f, 0f, 2f, 1f], 2, 3);
        var m = Ops.Max(x, [1]).ToArray();
        Assert.True(float.IsNaN(m[0]));
        Assert.Equal(2f, m[1]);
        Assert.True(float.IsNaN(Ops.Min(x, [0]).ToArray()[1]));
    }

    [Fact]
    public void LogSumExpIsStable()
    {
        var x = Tensor.FromArray([1000f, 1000f, -1000f, float.NegativeInfinity, float.NegativeInfinity, float.NegativeInfinity], 2, 3);
        var l = Ops.LogSumExp(x, [1]).ToArray();
        Assert.Equal(1000 + Math.Log(2), l[0], 3);
        Assert.Equal(float.NegativeInfinity, l[1]);
        // Along a strided dim too.
        var y = Tensor.FromArray([500f, -500f, 500f, 88f], 2, 2);
        var ly = Ops.LogSumExp(y, [0]).ToArray();
        Assert.Equal(500 + Math.Log(2), ly[0], 3);
        Assert.Equal(88f, ly[1], 3);
    }

    [Fact]
    public void OutputsStayReadableAfterBackward()
    {
        // Backward passes view outputs in the keep shape; with keepDim that view is the output itself.
        var x = Rand.Normal(4, 2, 3).RequireGrad();
        foreach (var f in new Func<Tensor, Tensor>[] { t => Ops.LogSumExp(t, [1], true), t => Ops.Norm(t, [1], true), t => Ops.Max(t, [1], true) })
        {
            var y = f(x);
            var before = y.ToArray();
            Ops.Sum(y).Backward();
            Assert.Equal(before, y.ToArray());
            x.ZeroGrad();
        }
    }

    [Fact]
    public void NormGradientIsZeroAtZero()
    {
        var x = Tensor.FromArray([0f, 0f, 3f, 4f], 2, 2).RequireGrad();
        Ops.Sum(Ops.Norm(x, [1])).Backward();
        Close.All(new double[] { 0, 0, 0.6, 0.8 }, x.Grad!.ReadOnlySpan);
        var z = Tensor.Zeros(3).RequireGrad();
        Ops.Norm(z).Backward();
        Assert.Equal(new[] { 0f, 0f, 0f }, z.Grad!.ToArray());
    }

    [Fact]
    public void VarOfOneElementIsNaNWhenUnbiased()
    {
        var x = Tensor.FromArray([2f], 1);
        Assert.True(float.IsNaN(Ops.Var(x).Item()));
        Assert.Equal(0f, Ops.Var(x, unbiased: false).Item());
    }

    [Fact]
    public void SumIsAccurateOverLongRunsAndEmptyDims()
    {
        // 1 + many tiny values: sequential float addition would lose them all.
        int n = 200_000;
        var data = Enumerable.Repeat(1e-4f, n).ToArray();
        data[0] = 1f;
        Assert.Equal(1 + 1e-4 * (n - 1), Ops.Sum(Tensor.FromArray(data, n)).Item(), 3);
        var col = Tensor.FromArray(data, n, 1);
        Assert.Equal(1 + 1e-4 * (n - 1), Ops.Sum(Ops.Reshape(col, n / 4, 4), [0]).ToArray().Sum(), 2);
        var empty = Tensor.Zeros(0, 3);
        Assert.Equal(new[] { 0f, 0f, 0f }, Ops.Sum(empty, [0]).ToArray());
        Assert.Equal(new[] { 3 }, Ops.Sum(empty, [0]).Shape);
    }

    [Fact]
    public void BadAxesNameTheOp()
    {
        var x = Tensor.Zeros(2, 3);
        Assert.Contains("mean", Assert.Throws<ArgumentOutOfRangeException>(() => Ops.Mean(x, [2])).Message);
        Assert.Contains("var", Assert.Throws<ArgumentOutOfRangeException>(() => Ops.Var(x, [-3])).Message);
        Assert.Contains("max", Assert.Throws<ArgumentOutOfRangeException>(() => Ops.Max(x, [5])).Message);
        Assert.Contains("min", Assert.Throws<ArgumentException>(() => Ops.Min(x, [1, 1])).Message);
        Assert.Contains("logsumexp", Assert.Throws<ArgumentOutOfRangeException>(() => Ops.LogSumExp(x, [2])).Message);
        Assert.Contains("norm", Assert.Throws<ArgumentOutOfRangeException>(() => Ops.Norm(x, [2])).Message);
        Assert.Contains("max", Assert.Throws<ArgumentException>(() => Ops.Max(Tensor.Zeros(0, 2), [0])).Message);
    }
}
