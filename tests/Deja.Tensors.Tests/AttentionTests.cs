using Deja.Tensors.Kernels;
using Deja.Tensors.Tests.Support;

namespace Deja.Tensors.Tests;

[Collection(Deja.Tensors.Tests.ThreadSensitive.Name)]
public class AttentionTests
{
    /// <summary>Full-matrix attention in double: o [BH·Lq·Dv] and the probabilities p [BH·Lq·Lk].</summary>
    static (double[] o, double[] p) Reference(Tensor q, Tensor k, Tensor v, bool causal, double scale)
    {
        int bh = q.Shape[0] * q.Shape[1], lq = q.Shape[2], lk = k.Shape[2], d = q.Shape[3], dv = v.Shape[3];
        var Q = q.ToArray(); var K = k.ToArray(); var V = v.ToArray();
        var o = new double[bh * lq * dv];
        var p = new double[bh * lq * lk];
        var s = new double[lk];
        for (int b = 0; b < bh; b++)
            for (int i = 0; i < lq; i++)
            {
                double max = double.NegativeInfinity;
                for (int j = 0; j < lk; j++)
                {
                    double dot = 0;
                    for (int c = 0; c < d; c++) dot += (double)Q[(b * lq + i) * d + c] * K[(b * lk + j) * d + c];
                    s[j] = causal && j > i ? double.NegativeInfinity : dot * scale;
                    max = Math.Max(max, s[j]);
                }
                double sum = 0;
                for (int j = 0; j < lk; j++) sum += s[j] = Math.Exp(s[j] - max);
                for (int j = 0; j < lk; j++)
                {
                    double pij = s[j] / sum;
                    p[(b * lq + i) * lk + j] = pij;
                    for (int c = 0; c < dv; c++) o[(b * lq + i) * dv + c] += pij * V[(b * lk + j) * dv + c];
                }
            }
        return (o, p);
    }

    /// <summary>Reference gradients in double from the full probability matrix.</summary>
    static (double[] dq, double[] dk, double[] dv) ReferenceGrad(Tensor q, Tensor k, Tensor v, Tensor dO, bool causal, double scale)
    {
        int bh = q.Shape[0] * q.Shape[1], lq = q.Shape[2], lk = k.Shape[2], d = q.Shape[3], dvs = v.Shape[3];
        var (o, p) = Reference(q, k, v, causal, scale);
        var Q = q.ToArray(); var K = k.ToArray(); var V = v.ToArray(); var G = dO.ToArray();
        var dq = new double[Q.Length]; var dk = new double[K.Length]; var dv = new double[V.Length];
        for (int b = 0; b < bh; b++)
            for (int i = 0; i < lq; i++)
            {
                double delta = 0;
                for (int c = 0; c < dvs; c++) delta += G[(b * lq + i) * dvs + c] * o[(b * lq + i) * dvs + c];
                for (int j = 0; j < lk; j++)
                {
                    double pij = p[(b * lq + i) * lk + j], dp = 0;
                    for (int c = 0; c < dvs; c++)
                    {
                        double g = G[(b * lq + i) * dvs + c];
                        dp += g * V[(b * lk + j) * dvs + c];
                        dv[(b * lk + j) * dvs + c] += pij * g;
                    }
                    double ds = pij * (dp - delta) * scale;
                    for (int c = 0; c < d; c++)
                    {
                        dq[(b * lq + i) * d + c] += ds * K[(b * lk + j) * d + c];
                        dk[(b * lk + j) * d + c] += ds * Q[(b * lq + i) * d + c];
                    }
                }
            }
        return (dq, dk, dv);
    }

    static void WithBlockRows(int rows, Action body)
    {
        AttentionKernels.BlockRowsOverride = rows;
        try { body(); }
        finally { AttentionKernels.BlockRowsOverride = 0; }
    }

    static void WithThreads(int n, Action body)
    {
        int old = Threading.Threads;
        Threading.Threads = n;
        try { body(); }
        finally { Threading.Threads = old; }
    }

    public static TheoryData<int, int, int, int, int, int, bool, float, int> Cases => new()
    {
        // B, H, Lq, Lk, D, Dv, causal, scale (0 = default 1/√D), block rows (0 = default)
        { 1, 1, 1, 1, 1, 1, false, 0f, 0 },
        { 2, 3, 5, 7, 4, 6, false, 0f, 0 },      // Lq ≠ Lk, Dv ≠ D
        { 2, 2, 9, 9, 8, 8, true, 0f, 0 },       // causal
        { 1, 2, 6, 11, 5, 3, false, 0.7f, 0 },   // custom scale
        { 1, 2, 23, 17, 8, 5, false, 0f, 5 },    // 23 rows in blocks of 5
        { 2, 1, 21, 21, 4, 4, true, 0f, 4 },     // causal over several blocks
        { 1, 2, 40, 77, 40, 40, false, 0f, 16 }, // cross-attention shape (77 keys)
        { 1, 1, 33, 33, 3, 2, true, 1.3f, 7 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardMatchesDoubleReference(int b, int h, int lq, int lk, int d, int dv, bool causal, float scale, int rows)
    {
        var q = Rand.Normal(1, b, h, lq, d); var k = Rand.Normal(2, b, h, lk, d); var v = Rand.Normal(3, b, h, lk, dv);
        float? s = scale == 0 ? null : scale;
        var (expected, _) = Reference(q, k, v, causal, s ?? 1 / Math.Sqrt(d));
        WithBlockRows(rows, () =>
        {
            var o = Ops.ScaledDotProductAttention(q, k, v, causal, s);
            Assert.Equal(new[] { b, h, lq, dv }, o.Shape);
            Close.All(expected, o.ReadOnlySpan, 1e-4, 1e-5);
        });
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void BackwardMatchesFiniteDifferences(int b, int h, int lq, int lk, int d, int dv, bool causal, float scale, int rows)
    {
        var q = Rand.Normal(4, b, h, lq, d).RequireGrad();
        var k = Rand.Normal(5, b, h, lk, d).RequireGrad();
        var v = Rand.Normal(6, b, h, lk, dv).RequireGrad();
        float? s = scale == 0 ? null : scale;
        WithBlockRows(rows, () => GradCheck.Check(x => Ops.ScaledDotProductAttention(x[0], x[1], x[2], causal, s), [q, k, v], maxPerInput: 16));
    }

    [Theory]
    [InlineData(false, 0)]
    [InlineData(true, 0)]
    [InlineData(false, 13)]
    [InlineData(true, 13)]
    public void BackwardMatchesDoubleReferenceAcrossBlocks(bool causal, int rows)
    {
        // One head in default-sized blocks (464 rows: 3 blocks, each its own backward chunk),
        // or 13-row blocks over 3 heads (chunks of several blocks).
        int h = rows == 0 ? 1 : 3, l = rows == 0 ? 1100 : 61;
        var q = Rand.Normal(7, 1, h, l, 8).RequireGrad();
        var k = Rand.Normal(8, 1, h, l, 8).RequireGrad();
        var v = Rand.Normal(9, 1, h, l, 6).RequireGrad();
        var g = Rand.Normal(10, 1, h, l, 6);
        if (rows == 0) Assert.True(2 * AttentionKernels.BlockRows(l, l) < l, "the default block should split this query range");
        var (eo, _) = Reference(q, k, v, causal, 1 / Math.Sqrt(8));
        var (edq, edk, edv) = ReferenceGrad(q, k, v, g, causal, 1 / Math.Sqrt(8));
        WithBlockRows(rows, () =>
        {
            var o = Ops.ScaledDotProductAttention(q, k, v, causal);
            Close.All(eo, o.ReadOnlySpan, 1e-4, 1e-5, "o");
            var grads = Autograd.Grad([o], [q, k, v], [g]);
            Close.All(edq, grads[0]!.ReadOnlySpan, 1e-3, 1e-5, "dq");
            Close.All(edk, grads[1]!.ReadOnlySpan, 1e-3, 1e-5, "dk");
            Close.All(edv, grads[2]!.ReadOnlySpan, 1e-3, 1e-5, "dv");
        });
    }

    [Fact]
    public void GradientOfOneInputOnly()
    {
        var q = Rand.Normal(11, 1, 2, 9, 4); var k = Rand.Normal(12, 1, 2, 12, 4); var v = Rand.Normal(13, 1, 2, 12, 3);
        var g = Rand.Normal(14, 1, 2, 9, 3);
        var (edq, edk, edv) = ReferenceGrad(q, k, v, g, false, 0.5);
        var expected = new[] { edq, edk, edv };
        for (int which = 0; which < 3; which++)
        {
            var inputs = new[] { q, k, v }.Select((t, i) => Tensor.FromArray(t.ReadOnlySpan, t.Shape).RequireGrad(i == which)).ToArray();
            WithBlockRows(4, () =>
            {
                var o = Ops.ScaledDotProductAttention(inputs[0], inputs[1], inputs[2], scale: 0.5f);
                var grad = Autograd.Grad(o, inputs[which], g);
                Close.All(expected[which], grad!.ReadOnlySpan, 1e-3, 1e-5, $"input {which}");
            });
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(16)]
    [InlineData(77)]
    [InlineData(203)]
    public unsafe void RowMaxAndExpMatchReferenceAndZeroPadding(int len)
    {
        var rng = new Generator((ulong)len);
        var row = new float[AttentionRows.Padded(len)];
        for (int j = 0; j < row.Length; j++) row[j] = j < len ? (float)(rng.NextNormal() * 30) : float.NaN;
        if (len > 3) { row[1] = float.NegativeInfinity; row[2] = -200f; row[3] = 0f; }
        var x = (float[])row.Clone();
        fixed (float* p = row) Assert.Equal(x.Take(len).Max(), AttentionRows.Max(p, len));
        float sum;
        fixed (float* p = row) sum = AttentionRows.ExpShifted(p, len, 5f);
        double expectedSum = 0;
        for (int j = 0; j < len; j++)
        {
            double e = Math.Exp(x[j] - 5f); // of the float difference, as the kernel sees it
            expectedSum += e;
            Assert.True(Math.Abs(row[j] - e) <= 3e-7 * e + 1e-38, $"exp({x[j]} - 5): {row[j]} vs {e}");
        }
        for (int j = len; j < row.Length; j++) Assert.Equal(0f, row[j]);
        Assert.True(Math.Abs(sum - expectedSum) <= 1e-6 * expectedSum, $"sum {sum} vs {expectedSum}");
        fixed (float* p = row) { p[0] = float.NaN; Assert.True(float.IsNaN(AttentionRows.ExpShifted(p, 1, 0f))); }
    }

    [Fact]
    public void LargeScoresStayFinite()
    {
        // Scores in the thousands: a softmax without the max shift would overflow.
        var q = Ops.MulScalar(Rand.Normal(15, 1, 1, 20, 16), 30f);
        var k = Ops.MulScalar(Rand.Normal(16, 1, 1, 20, 16), 30f);
        var v = Rand.Normal(17, 1, 1, 20, 5);
        foreach (var causal in new[] { false, true })
        {
            var (expected, _) = Reference(q, k, v, causal, 0.25);
            Close.All(expected, Ops.ScaledDotProductAttention(q, k, v, causal).ReadOnlySpan, 1e-4, 1e-5);
        }
    }

    [Fact]
    public void SameResultsWithOneAndTwoThreads()
    {
        var q = Rand.Normal(18, 1, 3, 50, 8).RequireGrad();
        var k = Rand.Normal(19, 1, 3, 50, 8).RequireGrad();
        var v = Rand.Normal(20, 1, 3, 50, 8).RequireGrad();
        var g = Rand.Normal(21, 1, 3, 50, 8);
        float[][] Run()
        {
            float[][] r = [];
            WithBlockRows(7, () =>
            {
                var o = Ops.ScaledDotProductAttention(q, k, v, causal: true);
                var grads = Autograd.Grad([o], [q, k, v], [g]);
                r = [o.ToArray(), .. grads.Select(x => x!.ToArray())];
            });
            return r;
        }
        float[][] one = [], two = [];
        WithThreads(1, () => one = Run());
        WithThreads(2, () => two = Run());
        for (int i = 0; i < one.Length; i++) Close.All(one[i], two[i], 1e-5, 0, $"result {i}");
    }

    [Fact]
    public void DoubleBackwardIsRefusedByName()
    {
        var q = Rand.Normal(22, 1, 1, 4, 3).RequireGrad();
        var k = Rand.Normal(23, 1, 1, 4, 3).RequireGrad();
        var v = Rand.Normal(24, 1, 1, 4, 3).RequireGrad();
        var l = Ops.Sum(Ops.ScaledDotProductAttention(q, k, v));
        var ex = Assert.Throws<NotSupportedException>(() => Autograd.Grad(l, q, createGraph: true));
        Assert.Contains("scaled_dot_product_attention", ex.Message);
    }

    [Fact]
    public void BadInputsNameTheOpAndShapes()
    {
        void Bad(int[] qs, int[] ks, int[] vs, bool causal = false, string? mention = null)
        {
            var ex = Assert.Throws<ArgumentException>(() =>
                Ops.ScaledDotProductAttention(Tensor.Zeros(qs), Tensor.Zeros(ks), Tensor.Zeros(vs), causal));
            Assert.Contains("scaled_dot_product_attention", ex.Message);
            Assert.Contains(Shapes.Str(qs), ex.Message);
            if (mention is not null) Assert.Contains(mention, ex.Message);
        }
        Bad([2, 4, 5, 8], [1, 4, 6, 8], [1, 4, 6, 8], mention: "batch");   // B differs
        Bad([2, 4, 5, 8], [2, 3, 6, 8], [2, 3, 6, 8], mention: "head");    // H differs
        Bad([2, 4, 5, 8], [2, 4, 6, 8], [2, 2, 6, 8]);                     // H differs in v only
        Bad([2, 4, 5, 8], [2, 4, 6, 7], [2, 4, 6, 8], mention: "head dims"); // D differs
        Bad([2, 4, 5, 8], [2, 4, 6, 8], [2, 4, 5, 8], mention: "keys");    // Lk differs between k and v
        Bad([4, 5, 8], [4, 6, 8], [4, 6, 8], mention: "[B, H, L, D]");    // rank 3
        Bad([2, 4, 5, 8], [2, 4, 6, 8], [2, 4, 6, 8], causal: true, mention: "Lq == Lk");
        Bad([1, 1, 5, 8], [1, 1, 0, 8], [1, 1, 0, 8], mention: "zero keys");
    }

    [Fact]
    public void EmptyQueriesGiveEmptyOutputAndZeroKeyGradients()
    {
        var q = Tensor.Zeros(1, 2, 0, 4).RequireGrad();
        var k = Rand.Normal(25, 1, 2, 3, 4).RequireGrad();
        var v = Rand.Normal(26, 1, 2, 3, 5).RequireGrad();
        var o = Ops.ScaledDotProductAttention(q, k, v);
        Assert.Equal(new[] { 1, 2, 0, 5 }, o.Shape);
        var grads = Autograd.Grad([o], [k, v], [Tensor.Zeros(1, 2, 0, 5)]);
        Assert.All(grads[0]!.ToArray(), x => Assert.Equal(0f, x));
        Assert.All(grads[1]!.ToArray(), x => Assert.Equal(0f, x));
    }
}
