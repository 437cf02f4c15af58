using Deja.Tensors.Kernels;
using Deja.Tensors.Tests.Support;

namespace Deja.Tensors.Tests;

public class MatMulTests
{
    static double[] Naive(Tensor a, Tensor b, bool ta, bool tb)
    {
        int m = ta ? a.Shape[^1] : a.Shape[^2], k = ta ? a.Shape[^2] : a.Shape[^1];
        int n = tb ? b.Shape[^2] : b.Shape[^1];
        int batch = a.Length / (m * k);
        bool shared = b.Rank == 2;
        var o = new double[batch * m * n];
        var A = a.ToArray(); var B = b.ToArray();
        for (int bi = 0; bi < batch; bi++)
        {
            int ao = bi * m * k, bo = shared ? 0 : bi * k * n;
            for (int i = 0; i < m; i++) for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++)
                    s += (double)A[ao + (ta ? p * m + i : i * k + p)] * B[bo + (tb ? j * k + p : p * n + j)];
                o[bi * m * n + i * n + j] = s;
            }
        }
        return o;
    }

    public static TheoryData<int, int, int, bool, bool> Shapes3 => new()
    {
        { 1, 1, 1, false, false }, { 5, 7, 3, false, false }, { 5, 7, 3, true, false },
        { 5, 7, 3, false, true }, { 5, 7, 3, true, true }, { 33, 65, 17, false, false },
        { 64, 40, 129, false, true }, { 130, 9, 70, true, false },
    };

    [Theory]
    [MemberData(nameof(Shapes3))]
    public void SgemmMatchesDoubleReferenceWithBlasAndManaged(int m, int k, int n, bool ta, bool tb)
    {
        var a = ta ? Rand.Normal(1, k, m) : Rand.Normal(1, m, k);
        var b = tb ? Rand.Normal(2, n, k) : Rand.Normal(2, k, n);
        var expected = Naive(a, b, ta, tb);
        foreach (var managed in new[] { false, true })
        {
            Gemm.ForceManaged = managed;
            try { Close.All(expected, Ops.MatMul(a, b, ta, tb).ReadOnlySpan, 1e-4, 1e-4, managed ? "managed" : "blas"); }
            finally { Gemm.ForceManaged = false; }
        }
    }

    [Fact]
    public void SgemmRespectsAlphaBetaAndLeadingDims()
    {
        // C[1..3, 1..4] of a 4×6 buffer = 2·A·B + 0.5·C
        var a = Rand.Normal(3, 3, 5).ToArray(); var b = Rand.Normal(4, 5, 4).ToArray();
        var c = Rand.Normal(5, 4, 6).ToArray();
        foreach (var managed in new[] { false, true })
        {
            var cc = (float[])c.Clone();
            Gemm.ForceManaged = managed;
            try { Gemm.Sgemm(false, false, 3, 4, 5, 2f, a, 5, b, 4, 0.5f, cc.AsSpan(7), 6); }
            finally { Gemm.ForceManaged = false; }
            for (int i = 0; i < 4; i++) for (int j = 0; j < 6; j++)
            {
                double e = c[i * 6 + j];
                if (i >= 1 && j >= 1 && j <= 4)
                {
                    double s = 0;
                    for (int p = 0; p < 5; p++) s += a[(i - 1) * 5 + p] * b[p * 4 + j - 1];
                    e = 2 * s + 0.5 * c[i * 6 + j];
                }
                Assert.True(Math.Abs(e - cc[i * 6 + j]) < 1e-4, $"({i},{j}) managed={managed}: {e} vs {cc[i * 6 + j]}");
            }
        }
    }

    [Fact]
    public void BatchedAndSharedMatMul()
    {
        var a = Rand.Normal(1, 2, 3, 4, 5); var b = Rand.Normal(2, 2, 3, 5, 6); var w = Rand.Normal(3, 5, 6);
        Close.All(Naive(a, b, false, false), Ops.MatMul(a, b).ReadOnlySpan, 1e-5, 1e-5);
        Close.All(Naive(a, w, false, false), Ops.MatMul(a, w).ReadOnlySpan, 1e-5, 1e-5);
        var at = Rand.Normal(4, 2, 5, 4);
        Close.All(Naive(at, w, true, false), Ops.MatMul(at, w, transA: true).ReadOnlySpan, 1e-5, 1e-5);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void MatMulBackwardAndDoubleBackward(bool ta, bool tb)
    {
        var a = (ta ? Rand.Normal(1, 2, 4, 3) : Rand.Normal(1, 2, 3, 4)).RequireGrad();
        var b = (tb ? Rand.Normal(2, 2, 5, 4) : Rand.Normal(2, 2, 4, 5)).RequireGrad();
        GradCheck.Check(x => Ops.MatMul(x[0], x[1], ta, tb), [a, b]);
        var w = (tb ? Rand.Normal(3, 5, 4) : Rand.Normal(3, 4, 5)).RequireGrad();
        GradCheck.Check(x => Ops.MatMul(x[0], x[1], ta, tb), [a, w]);
        // products of matmuls have non-zero second derivatives
        GradCheck.CheckSecondOrder(x => Ops.Mul(Ops.MatMul(x[0], x[1], ta, tb), Ops.MatMul(x[0], x[1], ta, tb)), [a, b]);
    }

    [Fact]
    public void LinearMatchesReferenceAndGradients()
    {
        var x = Rand.Normal(1, 2, 3, 4).RequireGrad();
        var w = Rand.Normal(2, 5, 4).RequireGrad();
        var bias = Rand.Normal(3, 5).RequireGrad();
        var y = Ops.Linear(x, w, bias);
        Assert.Equal(new[] { 2, 3, 5 }, y.Shape);
        var e = Naive(x, w, false, true);
        for (int i = 0; i < e.Length; i++) e[i] += bias.ReadOnlySpan[i % 5];
        Close.All(e, y.ReadOnlySpan, 1e-5, 1e-5);
        GradCheck.Check(t => Ops.Linear(t[0], t[1], t[2]), [x, w, bias]);
        GradCheck.CheckSecondOrder(t => Ops.Mul(Ops.Linear(t[0], t[1], t[2]), Ops.Linear(t[0], t[1], t[2])), [x, w, bias]);
        var ex = Assert.Throws<ArgumentException>(() => Ops.Linear(Tensor.Zeros(2, 3), w));
        Assert.Contains("linear", ex.Message);
    }
}
