using Deja.Tensors.Tests.Support;

namespace Deja.Tensors.Tests;

[Collection(Deja.Tensors.Tests.ThreadSensitive.Name)]
public class EmbeddingTests
{
    [Fact]
    public void LooksUpRowsInTheShapeOfTheIds()
    {
        var w = Rand.Normal(1, 10, 4);
        var e = Ops.Embedding(w, [3, 0, 9, 3, 3, 1], 2, 3);
        Assert.Equal(new[] { 2, 3, 4 }, e.Shape);
        for (int d = 0; d < 4; d++)
        {
            Assert.Equal(w[9, d], e[0, 2, d]);
            Assert.Equal(w[1, d], e[1, 2, d]);
        }
        var fromTensor = Ops.Embedding(w, Tensor.FromArray([7f, 2f], 1, 2));
        Assert.Equal(new[] { 1, 2, 4 }, fromTensor.Shape);
        Assert.Equal(w[2, 3], fromTensor[0, 1, 3]);
        Assert.Equal(new[] { 4 }, Ops.Embedding(w, Tensor.Scalar(5f)).Shape);
        var rows = Ops.IndexSelect(w, [4, 4]);
        Assert.Equal(new[] { 2, 4 }, rows.Shape);
        Assert.Equal(w[4, 1], rows[1, 1]);
    }

    [Fact]
    public void GradientScatterAddsIntoRows()
    {
        var w = Rand.Normal(2, 5, 3).RequireGrad();
        int[] ids = [1, 4, 1, 1, 0];
        var g = Rand.Normal(3, 5, 3);
        Ops.Sum(Ops.Mul(Ops.Embedding(w, ids), g)).Backward();
        var expected = new double[15];
        var gs = g.ToArray();
        for (int i = 0; i < ids.Length; i++) for (int d = 0; d < 3; d++) expected[ids[i] * 3 + d] += gs[i * 3 + d];
        Close.All(expected, w.Grad!.ReadOnlySpan, 1e-6, 1e-7);
        GradCheck.Check(t => Ops.Embedding(t[0], ids, 5), [w]);
        GradCheck.CheckSecondOrder(t => Ops.Square(Ops.Embedding(t[0], ids)), [w]);
    }

    [Fact]
    public void LargeScatterIsDeterministicAcrossThreadCounts()
    {
        var w = Rand.Normal(4, 50, 3000).RequireGrad();
        var ids = Enumerable.Range(0, 200).Select(i => i * 37 % 50).ToArray();
        var g = Rand.Normal(5, 200, 3000);
        float[] Run()
        {
            w.ZeroGrad();
            Ops.Sum(Ops.Mul(Ops.Embedding(w, ids), g)).Backward();
            return w.Grad!.ToArray();
        }
        Assert.Equal(ThreadCount.With(1, Run), ThreadCount.With(2, Run));
    }

    [Fact]
    public void ModuleHasAWeightParameter()
    {
        var m = new Nn.Embedding(7, 3, new Generator(9));
        Assert.Equal(new[] { "weight" }, m.NamedParameters().Select(p => p.Name).ToArray());
        Assert.Equal(new[] { 7, 3 }, m.Weight.Shape);
        Assert.True(m.Weight.RequiresGrad);
        Assert.Equal(new[] { 2, 3 }, m.Forward([6, 0]).Shape);
        Assert.Equal(m.Weight[6, 2], m.Forward([6, 0])[0, 2]);
    }

    [Fact]
    public void BadIdsNameTheOp()
    {
        var w = Tensor.Zeros(4, 2);
        Assert.Contains("embedding", Assert.Throws<ArgumentOutOfRangeException>(() => Ops.Embedding(w, [4])).Message);
        Assert.Contains("embedding", Assert.Throws<ArgumentOutOfRangeException>(() => Ops.Embedding(w, [-1])).Message);
        Assert.Contains("embedding", Assert.Throws<ArgumentException>(() => Ops.Embedding(w, Tensor.FromArray([1.5f], 1))).Message);
        Assert.Contains("embedding", Assert.Throws<ArgumentException>(() => Ops.Embedding(w, [1, 2, 3], 2, 2)).Message);
        Assert.Contains("embedding", Assert.Throws<ArgumentException>(() => Ops.Embedding(Tensor.Zeros(4), [1])).Message);
        Assert.Contains("index_select", Assert.Throws<ArgumentOutOfRangeException>(() => Ops.IndexSelect(w, [9])).Message);
    }
}
