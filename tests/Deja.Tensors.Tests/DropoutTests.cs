using Deja.Tensors.Tests.Support;

namespace Deja.Tensors.Tests;

public class DropoutTests
{
    [Fact]
    public void ZeroesAboutPAndScalesTheRest()
    {
        var x = Tensor.Ones(100_000);
        var y = Ops.Dropout(x, 0.3f, new Generator(1)).ToArray();
        int zeros = y.Count(v => v == 0);
        Assert.InRange(zeros / 100_000.0, 0.29, 0.31);
        Assert.All(y.Where(v => v != 0), v => Assert.Equal(1 / 0.7f, v));
        // The same seed gives the same mask.
        Assert.Equal(y, Ops.Dropout(x, 0.3f, new Generator(1)).ToArray());
    }

    [Fact]
    public void IdentityWhenNotTrainingOrPIsZero()
    {
        var x = Rand.Normal(2, 10);
        Assert.Same(x, Ops.Dropout(x, 0.5f, new Generator(1), training: false));
        Assert.Same(x, Ops.Dropout(x, 0f, new Generator(1)));
        Assert.All(Ops.Dropout(x, 1f, new Generator(1)).ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void GradientUsesTheSameMask()
    {
        var x = Rand.Normal(3, 4, 5).RequireGrad();
        var y = Ops.Dropout(x, 0.5f, new Generator(7));
        Ops.Sum(y).Backward();
        var ys = y.ToArray(); var xs = x.ToArray(); var gs = x.Grad!.ToArray();
        for (int i = 0; i < ys.Length; i++) Assert.Equal(ys[i] == 0 ? 0f : 2f, gs[i]);
        // Fixed generator state per call, so finite differences see the same mask.
        GradCheck.Check(t => Ops.Dropout(t[0], 0.5f, new Generator(7)), [x]);
    }

    [Fact]
    public void ModuleIsActiveOnlyInTraining()
    {
        var m = new Nn.Dropout(0.5f, new Generator(3));
        var x = Tensor.Ones(1000);
        Assert.Contains(0f, m.Forward(x).ToArray());
        m.Eval();
        Assert.Same(x, m.Forward(x));
        Assert.Contains("p", Assert.Throws<ArgumentOutOfRangeException>(() => new Nn.Dropout(1.5f)).Message);
        Assert.Contains("dropout", Assert.Throws<ArgumentOutOfRangeException>(() => Ops.Dropout(x, -0.1f, new Generator(1))).Message);
    }
}
