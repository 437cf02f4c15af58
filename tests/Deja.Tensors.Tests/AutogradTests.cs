using Deja.Tensors.Tests.Support;

namespace Deja.Tensors.Tests;

public class AutogradTests
{
    [Fact]
    public void SharedSubexpressionAccumulatesBothPaths()
    {
        var x = Tensor.FromArray([2f, -3f], 2).RequireGrad();
        var y = x * x;            // used twice below
        var z = Ops.Sum(y * x + y); // x³ + x²  → 3x² + 2x
        z.Backward();
        Close.All(new double[] { 3 * 4 + 4, 3 * 9 - 6 }, x.Grad!.ReadOnlySpan);
    }

    [Fact]
    public void BackwardTwiceAccumulatesIntoGrad()
    {
        var x = Tensor.FromArray([1.5f], 1).RequireGrad();
        Ops.Sum(x * 3f).Backward();
        Ops.Sum(x * 3f).Backward();
        Assert.Equal(6f, x.Grad!.Item());
    }

    [Fact]
    public void SecondBackwardThroughFreedGraphFailsClearly()
    {
        var x = Tensor.FromArray([1f, 2f], 2).RequireGrad();
        var z = Ops.Sum(x * x);
        z.Backward();
        var ex = Assert.Throws<InvalidOperationException>(() => z.Backward());
        Assert.Contains("retainGraph", ex.Message);
    }

    [Fact]
    public void RetainGraphAllowsASecondBackward()
    {
        var x = Tensor.FromArray([1f, 2f], 2).RequireGrad();
        var z = Ops.Sum(x * x);
        z.Backward(retainGraph: true);
        z.Backward();
        Close.All(new double[] { 4, 8 }, x.Grad!.ReadOnlySpan);
    }

    [Fact]
    public void NoGradRecordsNothing()
    {
        var x = Tensor.FromArray([1f, 2f], 2).RequireGrad();
        Tensor y;
        using (GradMode.NoGrad()) y = x * x;
        Assert.False(y.RequiresGrad);
        Assert.True(y.IsLeaf);
        Assert.Throws<InvalidOperationException>(() => Ops.Sum(y).Backward());
    }

    [Fact]
    public void DoubleBackwardOfCube()
    {
        // d/dx x³ = 3x², d²/dx² = 6x
        var x = Tensor.FromArray([0.5f, -2f], 2).RequireGrad();
        var y = Ops.Sum(x * x * x);
        var g = Autograd.Grad(y, x, createGraph: true)!;
        Close.All(new double[] { 0.75, 12 }, g.ReadOnlySpan, 1e-6);
        var h = Autograd.Grad(Ops.Sum(g), x)!;
        Close.All(new double[] { 3, -12 }, h.ReadOnlySpan, 1e-6);
    }

    [Fact]
    public void GradOfNonScalarNeedsExplicitGradient()
    {
        var x = Tensor.FromArray([1f, 2f], 2).RequireGrad();
        var y = x * 2f;
        Assert.Throws<InvalidOperationException>(() => y.Backward());
        y.Backward(Tensor.FromArray([1f, 10f], 2));
        Close.All(new double[] { 2, 20 }, x.Grad!.ReadOnlySpan);
    }

    [Fact]
    public void GradApiDoesNotTouchDotGrad()
    {
        var x = Tensor.FromArray([3f], 1).RequireGrad();
        var g = Autograd.Grad(Ops.Sum(x * x), x)!;
        Assert.Equal(6f, g.Item());
        Assert.Null(x.Grad);
    }

    [Fact]
    public void UnusedInputGetsNull()
    {
        var x = Tensor.FromArray([3f], 1).RequireGrad();
        var w = Tensor.FromArray([3f], 1).RequireGrad();
        var gs = Autograd.Grad([Ops.Sum(x * 2f)], [x, w]);
        Assert.NotNull(gs[0]);
        Assert.Null(gs[1]);
    }

    [Fact]
    public void ScopeDisposalKeepsSavedTensorsAlive()
    {
        var w = Tensor.FromArray([2f, 3f], 2).RequireGrad();
        Tensor loss;
        using (var scope = TensorScope.Enter())
        {
            var a = Tensor.FromArray([5f, 7f], 2); // saved by mul's backward, disposed by the scope
            var h = a * w;
            loss = scope.Keep(Ops.Sum(h));
        }
        loss.Backward();
        Close.All(new double[] { 5, 7 }, w.Grad!.ReadOnlySpan);
    }

    [Fact]
    public void DisposedBufferReturnsToPoolAndIsReused()
    {
        int n = BufferPool.MinPooledLength * 4;
        var a = Tensor.Empty(n);
        var array = a.Array;
        a.Dispose();
        var b = Tensor.Empty(n);
        Assert.Same(array, b.Array);
        Assert.Throws<ObjectDisposedException>(() => a.Span[0] = 1);
    }

    [Fact]
    public void ViewKeepsBufferAfterParentDisposed()
    {
        int n = BufferPool.MinPooledLength * 2;
        var a = Tensor.Full(3f, n);
        var v = a.Reshape(2, n / 2);
        a.Dispose();
        var c = Tensor.Full(9f, n); // must not get a's buffer
        Assert.Equal(3f, v[1, 0]);
        c.Dispose();
    }

    [Fact]
    public void DoubleVjpGivesJacobianVectorProducts()
    {
        // f(x) = [x0²·x1, exp x1]: J = [[2x0x1, x0²], [0, exp x1]]; J·v via ∇_u⟨∇_x⟨f, u⟩, v⟩.
        var x = Tensor.FromArray([1.5f, -0.5f], 2).RequireGrad();
        var f = Ops.Concat([Ops.Narrow(x, 0, 0, 1) * Ops.Narrow(x, 0, 0, 1) * Ops.Narrow(x, 0, 1, 1), Ops.Exp(Ops.Narrow(x, 0, 1, 1))], 0);
        var u = Tensor.Zeros(2).RequireGrad();
        var vjp = Autograd.Grad(f, x, u, createGraph: true)!;
        var v = Tensor.FromArray([0.3f, 2f], 2);
        var jv = Autograd.Grad(vjp, u, v)!;
        Assert.Equal(2 * 1.5 * -0.5 * 0.3 + 1.5 * 1.5 * 2, jv[0], 5);
        Assert.Equal(Math.Exp(-0.5) * 2, jv[1], 5);
    }
}
