using Deja.Tensors.Kernels;
using Deja.Tensors.Tests.Support;

namespace Deja.Tensors.Tests;

[Collection(Deja.Tensors.Tests.ThreadSensitive.Name)]
public class NormalizationTests
{
    const double Eps = 1e-5;

    // ------------------------------------------------------------ double-precision references

    static double[] D(Tensor t) => t.ToArray().Select(v => (double)v).ToArray();

    static double[] GroupNormRef(double[] x, int[] shape, int groups, double[]? w, double[]? b, bool silu)
    {
        int n = shape[0], c = shape[1], s = shape.Skip(2).Aggregate(1, (p, d) => p * d), per = c / groups, len = per * s;
        var o = new double[x.Length];
        for (int r = 0; r < n * groups; r++)
        {
            int at = r * len;
            double mean = 0, v = 0;
            for (int i = 0; i < len; i++) mean += x[at + i];
            mean /= len;
            for (int i = 0; i < len; i++) v += (x[at + i] - mean) * (x[at + i] - mean);
            double rstd = 1 / Math.Sqrt(v / len + Eps);
            for (int i = 0; i < len; i++)
            {
                int ch = r % groups * per + i / s;
                double y = (x[at + i] - mean) * rstd * (w?[ch] ?? 1) + (b?[ch] ?? 0);
                o[at + i] = silu ? y / (1 + Math.Exp(-y)) : y;
            }
        }
        return o;
    }

    static double[] LayerNormRef(double[] x, int d, double[]? w, double[]? b)
    {
        var o = new double[x.Length];
        for (int at = 0; at < x.Length; at += d)
        {
            double mean = 0, v = 0;
            for (int i = 0; i < d; i++) mean += x[at + i];
            mean /= d;
            for (int i = 0; i < d; i++) v += (x[at + i] - mean) * (x[at + i] - mean);
            double rstd = 1 / Math.Sqrt(v / d + Eps);
            for (int i = 0; i < d; i++) o[at + i] = (x[at + i] - mean) * rstd * (w?[i] ?? 1) + (b?[i] ?? 0);
        }
        return o;
    }

    /// <summary>Central differences in double of L = Σ r·f(p) with respect to every element of p.</summary>
    static double[] DoubleFdGrad(Func<double[], double[]> f, double[] p, double[] r, double h = 1e-6)
    {
        var grad = new double[p.Length];
        for (int i = 0; i < p.Length; i++)
        {
            var q = (double[])p.Clone();
            q[i] = p[i] + h; var lp = f(q);
            q[i] = p[i] - h; var lm = f(q);
            double s = 0;
            for (int k = 0; k < r.Length; k++) s += r[k] * (lp[k] - lm[k]);
            grad[i] = s / (2 * h);
        }
        return grad;
    }

    // ------------------------------------------------------------ group_norm forward

    public static TheoryData<int[], int, bool> GroupCases => new()
    {
        { new[] { 2, 4, 3, 5 }, 2, true },
        { new[] { 2, 4, 3, 5 }, 2, false },
        { new[] { 1, 6, 7 }, 3, true },
        { new[] { 3, 32, 4, 4 }, 32, true },
        { new[] { 2, 8, 5, 5 }, 1, true },
        { new[] { 2, 64, 9 }, 32, false },
        { new[] { 4, 6 }, 3, true },
        { new[] { 1, 4, 33, 17 }, 4, true },
    };

    [Theory]
    [MemberData(nameof(GroupCases))]
    public void GroupNormForwardMatchesDoubleReference(int[] shape, int groups, bool affine)
    {
        var x = Rand.Normal(1, shape);
        int c = shape[1];
        var w = affine ? Rand.Normal(2, c) : null;
        var b = affine ? Rand.Normal(3, c) : null;
        var expected = GroupNormRef(D(x), shape, groups, w is null ? null : D(w), b is null ? null : D(b), silu: false);
        Close.All(expected, Ops.GroupNorm(x, groups, w, b).ReadOnlySpan, 1e-5, 1e-5, "group_norm");
        var expectedSilu = GroupNormRef(D(x), shape, groups, w is null ? null : D(w), b is null ? null : D(b), silu: true);
        Close.All(expectedSilu, Ops.GroupNormSilu(x, groups, w, b).ReadOnlySpan, 1e-5, 1e-5, "group_norm_silu");
    }

    [Theory]
    [InlineData(1.0f)]
    [InlineData(0.01f)]
    public void GroupNormStaysAccurateUnderALargeMeanOffset(float scale)
    {
        // x = 1000 + scale·N(0,1): a float32 one-pass E[x²] − E[x]² would lose every digit here
        int[] shape = [2, 64, 32, 32];
        var x = Rand.Normal(4, shape);
        var xs = x.Span;
        for (int i = 0; i < xs.Length; i++) xs[i] = 1000f + scale * xs[i];
        var w = Rand.Normal(5, 64); var b = Rand.Normal(6, 64);
        Close.All(GroupNormRef(D(x), shape, 32, D(w), D(b), false), Ops.GroupNorm(x, 32, w, b).ReadOnlySpan, 1e-5, 1e-5);

        var rows = Rand.Normal(7, 64, 320);
        var rs = rows.Span;
        for (int i = 0; i < rs.Length; i++) rs[i] = 1000f + scale * rs[i];
        Close.All(LayerNormRef(D(rows), 320, null, null), Ops.LayerNorm(rows).ReadOnlySpan, 1e-5, 1e-5);
    }

    [Fact]
    public void ConstantGroupGivesZerosNotNaN()
    {
        var x = Tensor.Full(3f, 1, 4, 2, 2);
        Assert.All(Ops.GroupNorm(x, 2).ToArray(), v => Assert.Equal(0f, v));
        Assert.All(Ops.LayerNorm(Tensor.Full(-7f, 3, 5)).ToArray(), v => Assert.Equal(0f, v));
    }

    // ------------------------------------------------------------ layer_norm forward

    [Theory]
    [InlineData(new[] { 5 }, true)]
    [InlineData(new[] { 3, 7 }, true)]
    [InlineData(new[] { 2, 3, 40 }, false)]
    [InlineData(new[] { 2, 77, 33 }, true)]
    [InlineData(new[] { 300, 1 }, true)]
    public void LayerNormForwardMatchesDoubleReference(int[] shape, bool affine)
    {
        var x = Rand.Normal(8, shape);
        int d = shape[^1];
        var w = affine ? Rand.Normal(9, d) : null;
        var b = affine ? Rand.Normal(10, d) : null;
        var expected = LayerNormRef(D(x), d, w is null ? null : D(w), b is null ? null : D(b));
        Close.All(expected, Ops.LayerNorm(x, w, b).ReadOnlySpan, 1e-5, 1e-5);
        if (affine) Close.All(LayerNormRef(D(x), d, D(w!), null), Ops.LayerNorm(x, w).ReadOnlySpan, 1e-5, 1e-5, "weight only");
    }

    // ------------------------------------------------------------ backward

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, true)]
    [InlineData(false, false)]
    [InlineData(true, false)]
    public void GroupNormBackwardMatchesDoubleFiniteDifferences(bool silu, bool affine)
    {
        int[] shape = [2, 6, 3, 2];
        const int groups = 3;
        var x = Rand.Normal(11, shape).RequireGrad();
        var w = affine ? Rand.Normal(12, 6).RequireGrad() : null;
        var b = affine ? Rand.Normal(13, 6).RequireGrad() : null;
        var y = silu ? Ops.GroupNormSilu(x, groups, w, b) : Ops.GroupNorm(x, groups, w, b);
        var r = Rand.Normal(14, shape);
        y.Backward(r);
        double[] dx = D(x), dw = w is null ? [] : D(w), db = b is null ? [] : D(b), rr = D(r);
        Close.All(DoubleFdGrad(p => GroupNormRef(p, shape, groups, w is null ? null : dw, b is null ? null : db, silu), dx, rr),
            x.Grad!.ReadOnlySpan, 1e-4, 1e-5, "dx");
        if (!affine) return;
        Close.All(DoubleFdGrad(p => GroupNormRef(dx, shape, groups, p, db, silu), dw, rr), w!.Grad!.ReadOnlySpan, 1e-4, 1e-5, "dweight");
        Close.All(DoubleFdGrad(p => GroupNormRef(dx, shape, groups, dw, p, silu), db, rr), b!.Grad!.ReadOnlySpan, 1e-4, 1e-5, "dbias");
    }

    [Fact]
    public void LayerNormBackwardMatchesDoubleFiniteDifferences()
    {
        int[] shape = [3, 4, 37];
        var x = Rand.Normal(15, shape).RequireGrad();
        var w = Rand.Normal(16, 37).RequireGrad();
        var b = Rand.Normal(17, 37).RequireGrad();
        var r = Rand.Normal(18, shape);
        Ops.LayerNorm(x, w, b).Backward(r);
        double[] dx = D(x), dw = D(w), db = D(b), rr = D(r);
        Close.All(DoubleFdGrad(p => LayerNormRef(p, 37, dw, db), dx, rr), x.Grad!.ReadOnlySpan, 1e-4, 1e-5, "dx");
        Close.All(DoubleFdGrad(p => LayerNormRef(dx, 37, p, db), dw, rr), w.Grad!.ReadOnlySpan, 1e-4, 1e-5, "dweight");
        Close.All(DoubleFdGrad(p => LayerNormRef(dx, 37, dw, p), db, rr), b.Grad!.ReadOnlySpan, 1e-4, 1e-5, "dbias");
    }

    [Fact]
    public void GradCheckForXWeightAndBias()
    {
        var x = Rand.Normal(19, 2, 4, 3, 3).RequireGrad();
        var w = Rand.Normal(20, 4).RequireGrad();
        var b = Rand.Normal(21, 4).RequireGrad();
        GradCheck.Check(t => Ops.GroupNorm(t[0], 2, t[1], t[2]), [x, w, b]);
        GradCheck.Check(t => Ops.GroupNormSilu(t[0], 2, t[1], t[2]), [x, w, b]);
        GradCheck.Check(t => Ops.GroupNorm(t[0], 4), [x]);
        var h = Rand.Normal(22, 3, 2, 9).RequireGrad();
        var lw = Rand.Normal(23, 9).RequireGrad();
        var lb = Rand.Normal(24, 9).RequireGrad();
        GradCheck.Check(t => Ops.LayerNorm(t[0], t[1], t[2]), [h, lw, lb]);
        GradCheck.Check(t => Ops.LayerNorm(t[0], null, t[1]), [h, lb]);
    }

    [Fact]
    public void GradientsOnlyForWhatRequiresThem()
    {
        var x = Rand.Normal(25, 2, 4, 5);
        var w = Rand.Normal(26, 4).RequireGrad();
        var b = Rand.Normal(27, 4);
        Ops.Sum(Ops.GroupNormSilu(x, 2, w, b)).Backward();
        Assert.NotNull(w.Grad);
        Assert.Null(x.Grad);
        Assert.Null(b.Grad);
        var lb = Rand.Normal(28, 5).RequireGrad();
        Ops.Sum(Ops.Mul(Ops.LayerNorm(x, null, lb), x)).Backward();
        Assert.NotNull(lb.Grad);
    }

    [Fact]
    public void DoubleBackwardThrowsNamingTheOp()
    {
        var x = Rand.Normal(29, 2, 4, 3).RequireGrad();
        var y = Ops.Sum(Ops.Mul(Ops.GroupNorm(x, 2), x));
        var ex = Assert.Throws<NotSupportedException>(() => Autograd.Grad(y, x, createGraph: true));
        Assert.Contains("group_norm", ex.Message);
        var z = Ops.Sum(Ops.Mul(Ops.LayerNorm(x), x));
        ex = Assert.Throws<NotSupportedException>(() => Autograd.Grad(z, x, createGraph: true));
        Assert.Contains("layer_norm", ex.Message);
    }

    // ------------------------------------------------------------ bad input

    [Fact]
    public void BadInputMessagesNameTheOp()
    {
        var x = Rand.Normal(30, 2, 6, 4);
        Assert.Contains("group_norm", Assert.Throws<ArgumentException>(() => Ops.GroupNorm(x, 4)).Message);
        Assert.Contains("group_norm", Assert.Throws<ArgumentException>(() => Ops.GroupNorm(x, 0)).Message);
        Assert.Contains("group_norm", Assert.Throws<ArgumentException>(() => Ops.GroupNorm(x, 3, Tensor.Ones(5))).Message);
        Assert.Contains("group_norm", Assert.Throws<ArgumentException>(() => Ops.GroupNorm(x, 3, null, Tensor.Ones(6, 1))).Message);
        Assert.Contains("group_norm", Assert.Throws<ArgumentException>(() => Ops.GroupNorm(Tensor.Ones(6), 3)).Message);
        Assert.Contains("group_norm_silu", Assert.Throws<ArgumentException>(() => Ops.GroupNormSilu(x, 5)).Message);
        Assert.Contains("layer_norm", Assert.Throws<ArgumentException>(() => Ops.LayerNorm(x, Tensor.Ones(6))).Message);
        Assert.Contains("layer_norm", Assert.Throws<ArgumentException>(() => Ops.LayerNorm(x, null, Tensor.Ones(3))).Message);
        Assert.Contains("layer_norm", Assert.Throws<ArgumentException>(() => Ops.LayerNorm(Tensor.Scalar(1f))).Message);
    }

    // ------------------------------------------------------------ threads

    [Fact]
    public void ResultsDoNotDependOnThreadCount()
    {
        float[][] Run()
        {
            var x = Rand.Normal(31, 2, 64, 16, 16).RequireGrad();
            var w = Rand.Normal(32, 64).RequireGrad();
            var b = Rand.Normal(33, 64).RequireGrad();
            var r = Rand.Normal(34, 2, 64, 16, 16);
            var y = Ops.GroupNormSilu(x, 32, w, b);
            y.Backward(r);
            var y2 = Ops.GroupNorm(x, 32, w, b);
            var h = Rand.Normal(35, 300, 96).RequireGrad();
            var lw = Rand.Normal(36, 96).RequireGrad();
            var lb = Rand.Normal(37, 96).RequireGrad();
            var z = Ops.LayerNorm(h, lw, lb);
            z.Backward(Rand.Normal(38, 300, 96));
            return [y.ToArray(), y2.ToArray(), x.Grad!.ToArray(), w.Grad!.ToArray(), b.Grad!.ToArray(),
                z.ToArray(), h.Grad!.ToArray(), lw.Grad!.ToArray(), lb.Grad!.ToArray()];
        }
        int saved = Threading.Threads;
        try
        {
            Threading.Threads = 1;
            var one = Run();
            Threading.Threads = 2;
            var two = Run();
            // fixed blocks combined in a fixed order: not just close, identical
            for (int i = 0; i < one.Length; i++) Assert.Equal(one[i], two[i]);
        }
        finally { Threading.Threads = saved; }
    }

    // ------------------------------------------------------------ modules

    [Fact]
    public void ModulesRegisterPyTorchParameterNames()
    {
        var gn = new Nn.GroupNorm(2, 4);
        Assert.Equal(new[] { "weight", "bias" }, gn.NamedParameters().Select(p => p.Name));
        Assert.All(gn.Weight!.ToArray(), v => Assert.Equal(1f, v));
        Assert.All(gn.Bias!.ToArray(), v => Assert.Equal(0f, v));
        var x = Rand.Normal(39, 2, 4, 5);
        Close.All(Ops.GroupNorm(x, 2).ReadOnlySpan, gn.Forward(x).ReadOnlySpan, 0, 0);
        Close.All(Ops.GroupNormSilu(x, 2).ReadOnlySpan, gn.ForwardSilu(x).ReadOnlySpan, 0, 0);
        Assert.Empty(new Nn.GroupNorm(2, 4, affine: false).NamedParameters());
        Assert.Contains("GroupNorm", Assert.Throws<ArgumentException>(() => new Nn.GroupNorm(2, 6, affine: false).Forward(x)).Message);
        Assert.Contains("GroupNorm", Assert.Throws<ArgumentException>(() => new Nn.GroupNorm(4, 6)).Message);

        var ln = new Nn.LayerNorm(5);
        Assert.Equal(new[] { "weight", "bias" }, ln.NamedParameters().Select(p => p.Name));
        Close.All(Ops.LayerNorm(x).ReadOnlySpan, ln.Forward(x).ReadOnlySpan, 0, 0);
        Assert.Empty(new Nn.LayerNorm(5, elementwiseAffine: false).NamedParameters());
        Assert.Contains("LayerNorm", Assert.Throws<ArgumentException>(() => ln.Forward(Rand.Normal(40, 2, 4))).Message);
    }
}
