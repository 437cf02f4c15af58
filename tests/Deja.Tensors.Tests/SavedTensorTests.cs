using Deja.Tensors.Tests.Support;

namespace Deja.Tensors.Tests;

/// <summary>
/// What backward nodes keep alive. A VJP through frozen weights (explanation, localization, prompt
/// mitigation) must not hold the activations that only weight gradients read, and GEGLU keeps only
/// its input; the gradients stay what they were.
/// </summary>
public class SavedTensorTests
{
    /// <summary>Whether <paramref name="x"/>'s buffer outlives x itself (a backward node saved it).</summary>
    static bool KeptAfterDispose(Tensor x)
    {
        x.Dispose();
        return !x.storage.IsReleased;
    }

    [Fact]
    public void LinearKeepsTheInputOnlyForTheWeightGradient()
    {
        var w = Rand.Normal(1, 6, 5);
        var x = Rand.Normal(2, 4, 5).RequireGrad();
        var y = Ops.Linear(x, w);
        var gy = Rand.Normal(3, 4, 6);
        var expected = Ops.MatMul(gy, w).ToArray();
        Assert.False(KeptAfterDispose(x));
        var dx = Autograd.Grad([y], [x], [gy])[0]!;
        Assert.Equal(expected, dx.ToArray());

        var wt = Rand.Normal(1, 6, 5).RequireGrad();
        var x2 = Rand.Normal(2, 4, 5);
        var expectedW = Ops.MatMul(gy, x2, transA: true).ToArray();
        var y2 = Ops.Linear(x2, wt);
        Assert.True(KeptAfterDispose(x2));
        Assert.Equal(expectedW, Autograd.Grad([y2], [wt], [gy])[0]!.ToArray());
    }

    [Fact]
    public void MatMulAndMulKeepOnlyWhatTheOtherSideNeeds()
    {
        var a = Rand.Normal(4, 3, 4).RequireGrad();
        var b = Rand.Normal(5, 4, 2);
        var y = Ops.MatMul(a, b);
        var gy = Rand.Normal(6, 3, 2);
        var expected = Ops.MatMul(gy, b, transB: true).ToArray();
        Assert.True(KeptAfterDispose(b)); // da reads b
        var a2 = Rand.Normal(4, 3, 4);
        var b2 = Rand.Normal(5, 4, 2).RequireGrad();
        _ = Ops.MatMul(a2, b2);
        Assert.True(KeptAfterDispose(a2)); // db reads a
        Assert.Equal(expected, Autograd.Grad([y], [a], [gy])[0]!.ToArray());
        var a3 = Rand.Normal(7, 3, 4).RequireGrad();
        var b3 = Rand.Normal(8, 4, 2);
        _ = Ops.MatMul(a3, b3);
        Assert.False(KeptAfterDispose(a3)); // nothing reads a when b needs no gradient

        var m = Rand.Normal(9, 8).RequireGrad();
        var c = Rand.Normal(10, 8);
        _ = Ops.Mul(m, c);
        Assert.False(KeptAfterDispose(m));
        var m2 = Rand.Normal(9, 8).RequireGrad();
        var c2 = Rand.Normal(10, 8);
        _ = Ops.Mul(m2, c2);
        Assert.True(KeptAfterDispose(c2));
    }

    [Fact]
    public void ConvKeepsTheInputOnlyForTheWeightGradient()
    {
        var w = Rand.Normal(11, 4, 3, 3, 3);
        var x = Rand.Normal(12, 2, 3, 6, 6).RequireGrad();
        var y = Ops.Conv2d(x, w, null, 1, 1);
        var gy = Rand.Normal(13, 2, 4, 6, 6);
        var expected = Ops.Conv2dInputGrad(gy, w, 6, 6, 1, 1).ToArray();
        Assert.False(KeptAfterDispose(x));
        Assert.Equal(expected, Autograd.Grad([y], [x], [gy])[0]!.ToArray());
        var wt = Rand.Normal(11, 4, 3, 3, 3).RequireGrad();
        var x2 = Rand.Normal(12, 2, 3, 6, 6);
        _ = Ops.Conv2d(x2, wt, null, 1, 1);
        Assert.True(KeptAfterDispose(x2));
    }

    static Tensor ComposedGeglu(Tensor p)
    {
        int f = p.Shape[^1] / 2;
        return Ops.Mul(Ops.Narrow(p, -1, 0, f), Ops.Gelu(Ops.Narrow(p, -1, f, f)));
    }

    /// <summary>The fused op (float Φ) against the composed ops (double-precision erf) at f = 32 (vector
    /// lanes only) and f = 5 (scalar tails).</summary>
    [Theory]
    [InlineData(32)]
    [InlineData(5)]
    public void GatedGeluEqualsTheComposedOps(int f)
    {
        var p = (Rand.Normal(14, 3, 7, 2 * f) * 2.5f).Detach().RequireGrad();
        var gy = Rand.Normal(15, 3, 7, f);
        var fused = Ops.GatedGelu(p);
        var composed = ComposedGeglu(p);
        var dFused = Autograd.Grad([fused], [p], [gy])[0]!;
        var dComposed = Autograd.Grad([composed], [p], [gy])[0]!;
        Close.All(composed.ReadOnlySpan, fused.ReadOnlySpan, 1e-6, 1e-7, "forward");
        // Φ + x·φ cancels for x ≪ 0 in both (float) evaluations: the kernel test bounds the fused one
        // against double precision; here an absolute slack of 1e-6 on gradients of order 1
        Close.All(dComposed.ReadOnlySpan, dFused.ReadOnlySpan, 1e-6, 1e-6, "backward");
    }

    [Fact]
    public void GatedGeluKeepsOnlyItsInputAndMatchesFiniteDifferences()
    {
        var p = Rand.Normal(16, 2, 3, 8).RequireGrad();
        var h = Ops.GatedGelu(Ops.MulScalar(p, 1f)); // the op's input is an intermediate, as in the UNet
        Assert.Single(h.GradFn!.Inputs);
        GradCheck.Check(t => Ops.GatedGelu(t[0]), [Rand.Normal(17, 2, 3, 8).RequireGrad()]);
        GradCheck.CheckSecondOrder(t => Ops.GatedGelu(t[0]), [Rand.Normal(18, 2, 3, 8).RequireGrad()]);
    }

    [Fact]
    public void GatedGeluRefusesAnOddLastDim()
    {
        var e = Assert.Throws<ArgumentException>(() => Ops.GatedGelu(Rand.Normal(19, 2, 5)));
        Assert.Contains("gated_gelu", e.Message);
    }
}
