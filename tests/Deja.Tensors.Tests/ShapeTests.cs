using Deja.Tensors.Tests.Support;

namespace Deja.Tensors.Tests;

public class ShapeTests
{
    public static TheoryData<int[], int[]> Permutations => new()
    {
        { new[] { 3, 4 }, new[] { 1, 0 } },
        { new[] { 2, 3, 4 }, new[] { 0, 2, 1 } },
        { new[] { 2, 3, 4 }, new[] { 2, 0, 1 } },
        { new[] { 2, 3, 4 }, new[] { 1, 2, 0 } },
        { new[] { 2, 5, 3, 4 }, new[] { 0, 2, 1, 3 } },   // attention's head split: runs of the last dim
        { new[] { 2, 3, 5, 4 }, new[] { 0, 2, 1, 3 } },   // and back
        { new[] { 2, 1, 3, 1, 4 }, new[] { 4, 1, 0, 3, 2 } },
        { new[] { 2, 3, 70 }, new[] { 0, 2, 1 } },         // NCHW → NHWC-style tiles with partial tiles
        { new[] { 1, 3, 1 }, new[] { 2, 1, 0 } },          // only size-1 dims move: a view
        { new[] { 2, 3, 2, 3 }, new[] { 3, 2, 1, 0 } },
        { new[] { 3, 37, 45 }, new[] { 0, 2, 1 } },        // 8×8 register blocks with ragged edges
        { new[] { 19, 2, 13 }, new[] { 2, 1, 0 } },
    };

    [Theory]
    [MemberData(nameof(Permutations))]
    public void PermuteMatchesIndexArithmetic(int[] shape, int[] perm)
    {
        var x = Rand.Normal(1, shape);
        var p = Ops.Permute(x, perm);
        Assert.Equal(perm.Select(d => shape[d]).ToArray(), p.Shape);
        Close.All(Reference.Permute(x, perm), p.ReadOnlySpan, 0, 0);
        if (Shapes.Numel(shape) <= 200) GradCheck.Check(t => Ops.Permute(t[0], perm), [x.RequireGrad()]);
    }

    [Fact]
    public void PermuteOfTheAttentionShapeRoundTrips()
    {
        var x = Rand.Normal(2, 2, 4096, 8, 40);
        var p = Ops.Permute(x, 0, 2, 1, 3);
        Assert.Equal(new[] { 2, 8, 4096, 40 }, p.Shape);
        var xs = x.ToArray();
        Assert.Equal(xs[((1 * 4096 + 1234) * 8 + 5) * 40 + 17], p[1, 5, 1234, 17]);
        var back = Ops.Permute(p, 0, 2, 1, 3);
        Assert.Equal(xs, back.ToArray());
        // The NCHW ↔ NHWC case (tiled transpose).
        var c = Rand.Normal(3, 2, 320, 1024);
        var t = Ops.Permute(c, 0, 2, 1);
        Assert.Equal(c[1, 300, 1000], t[1, 1000, 300]);
        Assert.Equal(c.ToArray(), Ops.Permute(t, 0, 2, 1).ToArray());
    }

    [Fact]
    public void TransposeSwapsTwoDims()
    {
        var x = Rand.Normal(3, 2, 3, 4);
        var t = Ops.Transpose(x, 0, -1);
        Assert.Equal(new[] { 4, 3, 2 }, t.Shape);
        Close.All(Reference.Permute(x, [2, 1, 0]), t.ReadOnlySpan, 0, 0);
        Assert.Equal(x.ToArray(), x.Transpose(1, 2).Transpose(2, 1).ToArray());
    }

    [Fact]
    public void NarrowIsAViewAlongTheLeadingDimAndACopyElsewhere()
    {
        var x = Rand.Normal(4, 5, 3, 2);
        var lead = Ops.Narrow(x, 0, 1, 3);
        Assert.Same(x.Array, lead.Array);
        Assert.Equal(new[] { 3, 3, 2 }, lead.Shape);
        Assert.Equal(x[2, 1, 1], lead[1, 1, 1]);
        // Leading size-1 dims still allow a view.
        var y = Rand.Normal(5, 1, 1, 6, 2);
        Assert.Same(y.Array, Ops.Narrow(y, 2, 2, 3).Array);
        var inner = Ops.Narrow(x, 1, 1, 2);
        Assert.NotSame(x.Array, inner.Array);
        Assert.Equal(new[] { 5, 2, 2 }, inner.Shape);
        Assert.Equal(x[4, 2, 0], inner[4, 1, 0]);
        Assert.Equal(x[0, 2, 1], Ops.Narrow(x, -2, -1, 1)[0, 0, 1]);
        GradCheck.Check(t => Ops.Narrow(t[0], 0, 1, 3), [x.RequireGrad()]);
        GradCheck.Check(t => Ops.Narrow(t[0], 1, 1, 2), [x]);
        GradCheck.CheckSecondOrder(t => Ops.Square(Ops.Narrow(t[0], 2, 1, 1)), [x]);
    }

    [Fact]
    public void SliceClampsLikePythonAndSelectDropsTheDim()
    {
        var x = Rand.Normal(6, 4, 5);
        Assert.Equal(new[] { 4, 2 }, Ops.Slice(x, 1, -3, -1).Shape);
        Assert.Equal(x[1, 2], Ops.Slice(x, 1, -3, -1)[1, 0]);
        Assert.Equal(new[] { 4, 5 }, Ops.Slice(x, 1, -100, 100).Shape);
        Assert.Equal(new[] { 0, 5 }, Ops.Slice(x, 0, 3, 1).Shape);
        var row = Ops.Select(x, 2);
        Assert.Equal(new[] { 5 }, row.Shape);
        Assert.Same(x.Array, row.Array);
        Assert.Equal(x[2, 3], row[3]);
        var col = Ops.Select(x, 1, -1);
        Assert.Equal(new[] { 4 }, col.Shape);
        Assert.Equal(x[3, 4], col[3]);
        GradCheck.Check(t => Ops.Select(t[0], 1, 3), [x.RequireGrad()]);
    }

    [Fact]
    public void ConcatSplitChunkAndStackAgree()
    {
        var a = Rand.Normal(7, 2, 3, 4);
        var b = Rand.Normal(8, 2, 1, 4);
        var c = Rand.Normal(9, 2, 2, 4);
        var cat = Ops.Concat([a, b, c], 1);
        Assert.Equal(new[] { 2, 6, 4 }, cat.Shape);
        Assert.Equal(b[1, 0, 2], cat[1, 3, 2]);
        Assert.Equal(c[0, 1, 3], cat[0, 5, 3]);
        var parts = Ops.Split(cat, [3, 1, 2], 1);
        Assert.Equal(a.ToArray(), parts[0].ToArray());
        Assert.Equal(b.ToArray(), parts[1].ToArray());
        Assert.Equal(c.ToArray(), parts[2].ToArray());
        // Along the first dim concat is a run of copies and split gives views.
        var cat0 = Ops.Concat([a, a], 0);
        Assert.Equal(new[] { 4, 3, 4 }, cat0.Shape);
        var halves = Ops.Chunk(cat0, 2, 0);
        Assert.Same(cat0.Array, halves[1].Array);
        Assert.Equal(a.ToArray(), halves[1].ToArray());
        // torch.chunk sizes: 7 into 3 → 3, 3, 1; 5 into 4 → 2, 2, 1 (only three pieces).
        Assert.Equal(new[] { 3, 3, 1 }, Ops.Chunk(Tensor.Zeros(7), 3).Select(t => t.Length).ToArray());
        Assert.Equal(new[] { 2, 2, 1 }, Ops.Chunk(Tensor.Zeros(5), 4).Select(t => t.Length).ToArray());
        Assert.Equal(new[] { 2, 2, 1 }, Ops.Split(Tensor.Zeros(5), 2).Select(t => t.Length).ToArray());
        var st = Ops.Stack([a, a, a], 2);
        Assert.Equal(new[] { 2, 3, 3, 4 }, st.Shape);
        Assert.Equal(a[1, 2, 3], st[1, 2, 2, 3]);
        Assert.Equal(new[] { 2, 3, 4, 2 }, Ops.Stack([a, a], -1).Shape);

        a.RequireGrad(); b.RequireGrad(); c.RequireGrad();
        GradCheck.Check(t => Ops.Concat([t[0], t[1], t[2]], 1), [a, b, c]);
        GradCheck.Check(t => Ops.Concat([t[0], t[1]], -1), [a, Rand.Normal(12, 2, 3, 2).RequireGrad()]);
        GradCheck.Check(t => Ops.Stack([t[0], t[1]], 1), [a, Rand.Normal(10, 2, 3, 4).RequireGrad()]);
        GradCheck.Check(t => Ops.Mul(Ops.Split(t[0], [1, 1], 1)[1], Ops.Chunk(t[0], 2, 1)[0]), [c]);
        GradCheck.CheckSecondOrder(t => Ops.Square(Ops.Concat([t[0], t[1]], 1)), [a, b]);
    }

    [Fact]
    public void SqueezeUnsqueezeFlattenAreViews()
    {
        var x = Rand.Normal(11, 2, 1, 3, 1);
        Assert.Equal(new[] { 2, 3 }, Ops.Squeeze(x).Shape);
        Assert.Equal(new[] { 2, 3, 1 }, Ops.Squeeze(x, 1).Shape);
        Assert.Same(x, Ops.Squeeze(x, 0)); // size 2: unchanged, as in PyTorch
        Assert.Equal(new[] { 1, 2, 1, 3, 1 }, Ops.Unsqueeze(x, 0).Shape);
        Assert.Equal(new[] { 2, 1, 3, 1, 1 }, Ops.Unsqueeze(x, -1).Shape);
        Assert.Same(x.Array, Ops.Unsqueeze(x, 2).Array);
        Assert.Equal(new[] { 6 }, Ops.Flatten(x).Shape);
        Assert.Equal(new[] { 2, 3, 1 }, Ops.Flatten(x, 1, 2).Shape);
        Assert.Equal(new[] { 2, 1, 3 }, x.Flatten(2).Shape);
    }

    [Fact]
    public void BadInputsNameTheOp()
    {
        var x = Tensor.Zeros(2, 3);
        Assert.Contains("permute", Assert.Throws<ArgumentException>(() => Ops.Permute(x, 0)).Message);
        Assert.Contains("permute", Assert.Throws<ArgumentException>(() => Ops.Permute(x, 1, 1)).Message);
        Assert.Contains("permute", Assert.Throws<ArgumentOutOfRangeException>(() => Ops.Permute(x, 0, 2)).Message);
        Assert.Contains("transpose", Assert.Throws<ArgumentOutOfRangeException>(() => Ops.Transpose(x, 0, 3)).Message);
        var cat = Assert.Throws<ArgumentException>(() => Ops.Concat([x, Tensor.Zeros(3, 3)], 1));
        Assert.Contains("concat", cat.Message);
        Assert.Contains("[3,3]", cat.Message);
        Assert.Contains("concat", Assert.Throws<ArgumentException>(() => Ops.Concat([x, Tensor.Zeros(2, 3, 1)], 0)).Message);
        Assert.Contains("concat", Assert.Throws<ArgumentException>(() => Ops.Concat([], 0)).Message);
        Assert.Contains("stack", Assert.Throws<ArgumentException>(() => Ops.Stack([x, Tensor.Zeros(3, 2)])).Message);
        Assert.Contains("narrow", Assert.Throws<ArgumentOutOfRangeException>(() => Ops.Narrow(x, 1, 2, 2)).Message);
        Assert.Contains("select", Assert.Throws<ArgumentOutOfRangeException>(() => Ops.Select(x, 2)).Message);
        Assert.Contains("split", Assert.Throws<ArgumentException>(() => Ops.Split(x, [1, 1], 1)).Message);
        Assert.Contains("chunk", Assert.Throws<ArgumentException>(() => Ops.Chunk(x, 0)).Message);
        Assert.Contains("unsqueeze", Assert.Throws<ArgumentOutOfRangeException>(() => Ops.Unsqueeze(x, 3)).Message);
    }
}
