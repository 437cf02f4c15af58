using Deja.Tensors.Tests.Support;

namespace Deja.Tensors.Tests;

public class TensorMethodsTests
{
    [Fact]
    public void ShorthandsCallTheOps()
    {
        var x = Rand.Normal(1, 2, 3, 4);
        var p = Ops.AddScalar(Ops.Abs(x), 0.5f);
        Assert.Equal(Ops.Exp(x).ToArray(), x.Exp().ToArray());
        Assert.Equal(Ops.Log(p).ToArray(), p.Log().ToArray());
        Assert.Equal(Ops.Sqrt(p).ToArray(), p.Sqrt().ToArray());
        Assert.Equal(Ops.Rsqrt(p).ToArray(), p.Rsqrt().ToArray());
        Assert.Equal(Ops.Pow(p, 1.5f).ToArray(), p.Pow(1.5f).ToArray());
        Assert.Equal(Ops.Tanh(x).ToArray(), x.Tanh().ToArray());
        Assert.Equal(Ops.Sigmoid(x).ToArray(), x.Sigmoid().ToArray());
        Assert.Equal(Ops.Relu(x).ToArray(), x.Relu().ToArray());
        Assert.Equal(Ops.Clamp(x, 0f).ToArray(), x.Clamp(0f).ToArray());
        Assert.Equal(Ops.Mean(x, [1, 2]).ToArray(), x.Mean(1, 2).ToArray());
        Assert.Equal(new[] { 2, 1, 4 }, x.Mean(1, keepDim: true).Shape);
        Assert.Equal(Ops.Mean(x).Item(), x.Mean().Item());
        Assert.Equal(Ops.Var(x, [2]).ToArray(), x.Var(2).ToArray());
        Assert.Equal(Ops.Max(x, [0]).ToArray(), x.Max(0).ToArray());
        Assert.Equal(Ops.Min(x).Item(), x.Min().Item());
        Assert.Equal(Ops.Norm(x).Item(), x.Norm().Item());
        Assert.Equal(Ops.LogSumExp(x, [1]).ToArray(), x.LogSumExp(1).ToArray());
        Assert.Equal(Ops.Softmax(x, -1).ToArray(), x.Softmax(-1).ToArray());
        Assert.Equal(Ops.LogSoftmax(x, 0).ToArray(), x.LogSoftmax(0).ToArray());
        Assert.Equal(new[] { 4, 2, 3 }, x.Permute(2, 0, 1).Shape);
        Assert.Equal(new[] { 2, 4, 3 }, x.Transpose(1, 2).Shape);
        Assert.Equal(new[] { 2, 3, 2 }, x.Narrow(2, 1, 2).Shape);
        Assert.Equal(new[] { 2, 1, 3, 4 }, x.Unsqueeze(1).Shape);
        Assert.Equal(new[] { 2, 3, 4 }, x.Unsqueeze(1).Squeeze(1).Shape);
        Assert.Equal(new[] { 2, 12 }, x.Flatten(1).Shape);
        Assert.Equal(new[] { 5, 2, 3, 4 }, x.Expand(5, 2, 3, 4).Shape);
        Assert.Equal(Ops.Square(x).ToArray(), x.Square().ToArray());
    }
}
