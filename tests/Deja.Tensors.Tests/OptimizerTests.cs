using Deja.Tensors.Kernels;
using Deja.Tensors.Optim;
using Deja.Tensors.Tests.Support;

namespace Deja.Tensors.Tests;

[Collection(Deja.Tensors.Tests.ThreadSensitive.Name)]
public class OptimizerTests
{
    static readonly double[] P0 = [1.0, -2.0, 0.5];
    static readonly double[][] Grads = [[0.1, -0.2, 0.3], [-0.05, 0.4, 0.3], [0.2, 0.1, -0.6]];

    static Tensor Param(double[] values) => Tensor.FromArray(values.Select(v => (float)v).ToArray(), values.Length).RequireGrad();

    static void SetGrad(Tensor p, double[] g)
    {
        p.ZeroGrad();
        p.Grad = Tensor.FromArray(g.Select(v => (float)v).ToArray(), g.Length);
    }

    /// <summary>Runs the optimizer over <see cref="Grads"/>, comparing with <paramref name="expected"/>[t] after each step.</summary>
    static void RunAndCompare(Func<Tensor, Optimizer> make, double[][] expected, double tol = 1e-6)
    {
        var p = Param(P0);
        var opt = make(p);
        for (int t = 0; t < expected.Length; t++)
        {
            SetGrad(p, Grads[t]);
            opt.Step();
            Close.All(expected[t], p.ReadOnlySpan, tol, tol, $"step {t + 1}");
        }
    }

    // ------------------------------------------------------------ Adam / AdamW

    [Fact]
    public void FirstAdamStepMovesByLrTimesSign()
    {
        // m̂ = g, v̂ = g², so the first step is lr·g/(|g| + eps) ≈ lr·sign(g)
        var p = Param(P0);
        var opt = new Adam([p], lr: 0.01);
        SetGrad(p, Grads[0]);
        opt.Step();
        Close.All(new[] { 0.99, -1.99, 0.49 }, p.ReadOnlySpan, 1e-6, 1e-6);

        // AdamW first multiplies by 1 − lr·wd = 0.999
        var q = Param(P0);
        var adamw = new AdamW([q], lr: 0.01, weightDecay: 0.1);
        SetGrad(q, Grads[0]);
        adamw.Step();
        Close.All(new[] { 0.989, -1.988, 0.4895 }, q.ReadOnlySpan, 1e-6, 1e-6);
    }

    static double[][] AdamByHand(double lr, double b1, double b2, double eps, double wd, bool decoupled, bool amsgrad)
    {
        var p = (double[])P0.Clone();
        double[] m = new double[3], v = new double[3], vmax = new double[3];
        var after = new double[3][];
        for (int t = 1; t <= 3; t++)
        {
            for (int i = 0; i < 3; i++)
            {
                double g = Grads[t - 1][i];
                if (decoupled) p[i] -= lr * wd * p[i];      // AdamW: decay first
                else g += wd * p[i];                        // Adam: L2 into the gradient
                m[i] = b1 * m[i] + (1 - b1) * g;
                v[i] = b2 * v[i] + (1 - b2) * g * g;
                vmax[i] = Math.Max(vmax[i], v[i]);
                double stepSize = lr / (1 - Math.Pow(b1, t));
                double denom = Math.Sqrt(amsgrad ? vmax[i] : v[i]) / Math.Sqrt(1 - Math.Pow(b2, t)) + eps;
                p[i] -= stepSize * m[i] / denom;
            }
            after[t - 1] = (double[])p.Clone();
        }
        return after;
    }

    [Theory]
    [InlineData(0.0, false)]
    [InlineData(0.05, false)]
    [InlineData(0.05, true)]
    public void AdamMatchesHandComputedSteps(double wd, bool amsgrad)
    {
        var expected = AdamByHand(0.01, 0.8, 0.95, 1e-3, wd, decoupled: false, amsgrad);
        RunAndCompare(p => new Adam([p], lr: 0.01, beta1: 0.8, beta2: 0.95, eps: 1e-3, weightDecay: wd, amsGrad: amsgrad), expected);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AdamWMatchesHandComputedSteps(bool amsgrad)
    {
        var expected = AdamByHand(0.01, 0.9, 0.999, 1e-8, 0.5, decoupled: true, amsgrad);
        RunAndCompare(p => new AdamW([p], lr: 0.01, weightDecay: 0.5, amsGrad: amsgrad), expected);
        // defaults: torch's AdamW weight decay is 0.01
        Assert.Equal(0.01, new AdamW([Param(P0)]).WeightDecay);
        Assert.Equal(0.0, new Adam([Param(P0)]).WeightDecay);
    }

    [Fact]
    public void AmsGradDiffersFromAdamWhenTheSecondMomentShrinks()
    {
        var plain = AdamByHand(0.01, 0.8, 0.5, 1e-8, 0, false, false);
        var ams = AdamByHand(0.01, 0.8, 0.5, 1e-8, 0, false, true);
        Assert.NotEqual(plain[2][1], ams[2][1], 6); // the hand computation itself distinguishes them
        RunAndCompare(p => new Adam([p], lr: 0.01, beta1: 0.8, beta2: 0.5, amsGrad: true), ams);
    }

    // ------------------------------------------------------------ SGD

    static double[][] SgdByHand(double lr, double mu, double damp, bool nesterov, double wd)
    {
        var p = (double[])P0.Clone();
        var buf = new double[3];
        var after = new double[3][];
        for (int t = 1; t <= 3; t++)
        {
            for (int i = 0; i < 3; i++)
            {
                double d = Grads[t - 1][i] + wd * p[i];
                if (mu != 0)
                {
                    buf[i] = t == 1 ? d : mu * buf[i] + (1 - damp) * d;
                    d = nesterov ? d + mu * buf[i] : buf[i];
                }
                p[i] -= lr * d;
            }
            after[t - 1] = (double[])p.Clone();
        }
        return after;
    }

    [Theory]
    [InlineData(0.0, 0.0, false, 0.0)]
    [InlineData(0.9, 0.0, false, 0.0)]
    [InlineData(0.9, 0.3, false, 0.0)]
    [InlineData(0.9, 0.0, true, 0.0)]
    [InlineData(0.9, 0.0, true, 0.1)]
    [InlineData(0.0, 0.0, false, 0.1)]
    public void SgdMatchesHandComputedSteps(double mu, double damp, bool nesterov, double wd)
    {
        RunAndCompare(p => new Sgd([p], lr: 0.1, momentum: mu, dampening: damp, nesterov: nesterov, weightDecay: wd),
            SgdByHand(0.1, mu, damp, nesterov, wd));
    }

    [Fact]
    public void SgdLiteralSteps()
    {
        // plain: p − lr·g; momentum 0.9, second step: buf = 0.9·g1 + g2
        var p = Param(P0);
        var opt = new Sgd([p], lr: 0.1, momentum: 0.9);
        SetGrad(p, Grads[0]);
        opt.Step();
        Close.All(new[] { 0.99, -1.98, 0.47 }, p.ReadOnlySpan, 1e-6, 1e-7);
        SetGrad(p, Grads[1]);
        opt.Step();
        // buf = [0.09 − 0.05, −0.18 + 0.4, 0.27 + 0.3] = [0.04, 0.22, 0.57]
        Close.All(new[] { 0.986, -2.002, 0.413 }, p.ReadOnlySpan, 1e-6, 1e-7);
    }

    // ------------------------------------------------------------ weight decay

    [Fact]
    public void WeightDecayWithZeroGradient()
    {
        double[] zero = [0, 0, 0];
        // AdamW: decoupled, m = 0 so the Adam part is exactly 0 → p·(1 − lr·wd)
        var a = Param(P0);
        var adamw = new AdamW([a], lr: 0.1, weightDecay: 0.5);
        SetGrad(a, zero);
        adamw.Step();
        Close.All(new[] { 0.95, -1.9, 0.475 }, a.ReadOnlySpan, 1e-7, 1e-7);
        // Adam: L2 turns into a gradient wd·p, normalized by Adam → a step of ≈ lr·sign(p)
        var b = Param(P0);
        var adam = new Adam([b], lr: 0.1, weightDecay: 0.5);
        SetGrad(b, zero);
        adam.Step();
        Close.All(new[] { 0.9, -1.9, 0.4 }, b.ReadOnlySpan, 1e-6, 1e-6);
        // SGD: p − lr·wd·p
        var c = Param(P0);
        var sgd = new Sgd([c], lr: 0.1, weightDecay: 0.5);
        SetGrad(c, zero);
        sgd.Step();
        Close.All(new[] { 0.95, -1.9, 0.475 }, c.ReadOnlySpan, 1e-7, 1e-7);
    }

    // ------------------------------------------------------------ bookkeeping

    [Fact]
    public void ParametersWithoutGradientAreSkippedAndZeroGradDropsGradients()
    {
        var a = Param(P0);
        var b = Param(P0);
        var opt = new Adam([("a", a), ("b", b)], lr: 0.01);
        SetGrad(a, Grads[0]);
        opt.Step();
        Close.All(P0, b.ReadOnlySpan, 0, 0);
        var st = opt.ExportState();
        Assert.Equal(1, st.Step);
        Assert.Equal(1, st.Counters["a.step"]);
        Assert.False(st.Counters.ContainsKey("b.step"));
        Assert.Equal(new[] { "a.exp_avg", "a.exp_avg_sq" }, st.Tensors.Keys.Order());
        opt.ZeroGrad();
        Assert.Null(a.Grad);
    }

    [Fact]
    public void OptimizesAModuleEndToEnd()
    {
        // fit y = 2x − 1 with a 1→1 linear layer
        var lin = new Nn.Linear(1, 1, init: new Generator(3));
        var opt = new AdamW(lin.NamedParameters(), lr: 0.05, weightDecay: 0);
        var x = Tensor.FromArray([-1f, 0f, 1f, 2f], 4, 1);
        var y = Tensor.FromArray([-3f, -1f, 1f, 3f], 4, 1);
        for (int i = 0; i < 400; i++)
        {
            opt.ZeroGrad();
            var d = lin.Forward(x) - y;
            Ops.Sum(d * d).Backward();
            opt.Step();
        }
        Assert.Equal(2f, lin.Weight.Item(), 2);
        Assert.Equal(-1f, lin.Bias!.Item(), 2);
    }

    [Fact]
    public void BadArgumentsNameTheOptimizer()
    {
        var p = Param(P0);
        Assert.Contains("SGD", Assert.Throws<ArgumentException>(() => new Sgd([p], lr: 0.1, nesterov: true)).Message);
        Assert.Contains("SGD", Assert.Throws<ArgumentException>(() => new Sgd([p], lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true)).Message);
        Assert.Contains("Adam", Assert.Throws<ArgumentException>(() => new Adam([p], beta1: 1.0)).Message);
        Assert.Contains("AdamW", Assert.Throws<ArgumentException>(() => new AdamW([p], lr: -1)).Message);
        Assert.Contains("AdamW", Assert.Throws<ArgumentException>(() => new AdamW([p, p])).Message);
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => new Adam(Array.Empty<Tensor>())).Message);
        var nonLeaf = p * 2f;
        Assert.Contains("leaf", Assert.Throws<ArgumentException>(() => new Adam([nonLeaf])).Message);
    }

    // ------------------------------------------------------------ clip_grad_norm

    [Fact]
    public void ClipGradNormValueAndScaling()
    {
        var a = Param([1, 1]);
        var b = Param([1]);
        SetGrad(a, [3, 4]);
        SetGrad(b, [12]);
        Assert.Equal(13, Gradients.TotalNorm([a, b]), 5);
        Assert.Equal(19, Gradients.TotalNorm([a, b], 1), 5);
        Assert.Equal(12, Gradients.TotalNorm([a, b], double.PositiveInfinity), 5);
        Assert.Equal(Math.Pow(27 + 64 + 1728, 1 / 3.0), Gradients.TotalNorm([a, b], 3), 5);

        // below the limit nothing changes
        var before = a.Grad;
        Assert.Equal(13, Gradients.ClipGradNorm([a, b], 20), 5);
        Assert.Same(before, a.Grad);

        double total = Gradients.ClipGradNorm([a, b], 6.5);
        Assert.Equal(13, total, 5);
        double f = 6.5 / (13 + 1e-6);
        Close.All(new[] { 3 * f, 4 * f }, a.Grad!.ReadOnlySpan, 1e-6, 0);
        Close.All(new[] { 12 * f }, b.Grad!.ReadOnlySpan, 1e-6, 0);
        Assert.Equal(6.5, Gradients.TotalNorm([a, b]), 5);

        // no gradients at all: norm 0
        Assert.Equal(0, Gradients.ClipGradNorm([Param([1])], 1.0));
    }

    [Fact]
    public void ClipGradNormScalesSharedGradientBuffersOnce()
    {
        // y = a + b: both gradients are views of the same buffer, which is also the caller's tensor
        var a = Param([1, 1]);
        var b = Param([1, 1]);
        var gy = Tensor.FromArray([3f, 4f], 2);
        (a + b).Backward(gy);
        double total = Gradients.ClipGradNorm([a, b], 1.0);
        Assert.Equal(Math.Sqrt(50), total, 5);
        double f = 1.0 / (Math.Sqrt(50) + 1e-6);
        Close.All(new[] { 3 * f, 4 * f }, a.Grad!.ReadOnlySpan, 1e-6, 0);
        Close.All(new[] { 3 * f, 4 * f }, b.Grad!.ReadOnlySpan, 1e-6, 0);
        Close.All(new[] { 3.0, 4.0 }, gy.ReadOnlySpan, 0, 0);
    }

    [Fact]
    public void ClipGradNormNonFinite()
    {
        var a = Param([1, 1]);
        SetGrad(a, [double.PositiveInfinity, 1]);
        Assert.Equal(double.PositiveInfinity, Gradients.TotalNorm([a]));
        Assert.Contains("clip_grad_norm", Assert.Throws<InvalidOperationException>(() => Gradients.ClipGradNorm([a], 1, errorIfNonfinite: true)).Message);
    }

    // ------------------------------------------------------------ EMA

    [Fact]
    public void EmaWithoutWarmupIsAPlainMovingAverage()
    {
        var p = Param([1, 2]);
        var ema = new Ema([("p", p)], decay: 0.5, warmup: false);
        p.Span[0] = 3; p.Span[1] = 6;
        ema.Update();
        Close.All(new[] { 2.0, 4.0 }, ema.Shadow("p").ReadOnlySpan, 0, 0);
        p.Span[0] = 5; p.Span[1] = -2;
        ema.Update();
        Close.All(new[] { 3.5, 1.0 }, ema.Shadow("p").ReadOnlySpan, 0, 0);
        Assert.Equal(2, ema.Step);
    }

    [Fact]
    public void EmaWarmupFollowsDiffusers()
    {
        var p = Param([1, 2]);
        var frozen = Tensor.FromArray([7f], 1);
        var ema = new Ema([("p", p), ("frozen", frozen)], decay: 0.9999);
        Assert.Equal(0.0, ema.DecayAt(1));
        Assert.Equal(2.0 / 11, ema.DecayAt(2), 12);
        Assert.Equal(3.0 / 12, ema.DecayAt(3), 12);
        Assert.Equal(0.9999, ema.DecayAt(1_000_000), 12);

        double[] s = [1, 2];
        double[][] values = [[3, 6], [5, -2], [0, 1]];
        for (int k = 1; k <= 3; k++)
        {
            p.Span[0] = (float)values[k - 1][0]; p.Span[1] = (float)values[k - 1][1];
            ema.Update();
            double d = k == 1 ? 0 : Math.Min(0.9999, (1.0 + (k - 1)) / (10.0 + (k - 1)));
            for (int i = 0; i < 2; i++) s[i] = d * s[i] + (1 - d) * values[k - 1][i];
            Close.All(s, ema.Shadow("p").ReadOnlySpan, 1e-6, 1e-7, $"update {k}");
        }
        frozen.Span[0] = 9;
        ema.Update();
        Assert.Equal(9f, ema.Shadow("frozen").Item()); // not averaged: copied

        var target = Param([0, 0]);
        ema.CopyTo([("p", target)]);
        Close.All(ema.Shadow("p").ReadOnlySpan, target.ReadOnlySpan, 0, 0);
        Assert.Throws<ArgumentException>(() => ema.CopyTo([("q", target)]));
        ema.CopyToParameters();
        Close.All(ema.Shadow("p").ReadOnlySpan, p.ReadOnlySpan, 0, 0);
    }

    [Fact]
    public void EmaCopiesIntoAModule()
    {
        var m = new Nn.Linear(3, 2, init: new Generator(1));
        var ema = new Ema(m, decay: 0.9, warmup: false);
        m.Weight.Span.Fill(1f);
        ema.Update();
        var copy = new Nn.Linear(3, 2, init: new Generator(2));
        ema.CopyTo(copy);
        Close.All(ema.Shadow("weight").ReadOnlySpan, copy.Weight.ReadOnlySpan, 0, 0);
        Close.All(m.Bias!.ReadOnlySpan, copy.Bias!.ReadOnlySpan, 0, 0);
    }

    // ------------------------------------------------------------ resume

    static (Tensor a, Tensor b) TwoParams() => (Rand.Normal(1, 3, 70001).RequireGrad(), Rand.Normal(2, 5).RequireGrad());

    static void FakeGrads(Tensor a, Tensor b, int step)
    {
        a.ZeroGrad(); b.ZeroGrad();
        a.Grad = Rand.Normal(100 + (ulong)step, a.Shape);
        if (step % 3 != 1) b.Grad = Rand.Normal(200 + (ulong)step, b.Shape); // b misses some steps
    }

    public static TheoryData<string> Kinds => new() { "adamw", "adam-ams", "sgd-nesterov" };

    static Optimizer Make(string kind, Tensor a, Tensor b) => kind switch
    {
        "adamw" => new AdamW([("a", a), ("b", b)], lr: 0.01),
        "adam-ams" => new Adam([("a", a), ("b", b)], lr: 0.01, weightDecay: 0.1, amsGrad: true),
        _ => new Sgd([("a", a), ("b", b)], lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01),
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void ExportImportResumesBitIdentically(string kind)
    {
        var (a, b) = TwoParams();
        var opt = Make(kind, a, b);
        var ema = new Ema([("a", a), ("b", b)], decay: 0.99);
        for (int s = 1; s <= 3; s++) { FakeGrads(a, b, s); opt.Step(); ema.Update(); }

        var saved = opt.ExportState();
        var savedEma = ema.ExportState();
        var (a2, b2) = (Tensor.FromArray(a.ReadOnlySpan, a.Shape).RequireGrad(), Tensor.FromArray(b.ReadOnlySpan, b.Shape).RequireGrad());
        var snapshot = saved.Tensors.ToDictionary(kv => kv.Key, kv => kv.Value.ToArray());

        for (int s = 4; s <= 6; s++) { FakeGrads(a, b, s); opt.Step(); ema.Update(); }
        // the export is a copy: later steps left it alone
        foreach (var (k, v) in snapshot) Assert.Equal(v, saved.Tensors[k].ToArray());

        var resumed = Make(kind, a2, b2);
        resumed.ImportState(saved);
        var ema2 = new Ema([("a", a2), ("b", b2)], decay: 0.99);
        ema2.ImportState(savedEma);
        Assert.Equal(3, resumed.StepCount);
        for (int s = 4; s <= 6; s++) { FakeGrads(a2, b2, s); resumed.Step(); ema2.Update(); }

        Assert.Equal(a.ToArray(), a2.ToArray());
        Assert.Equal(b.ToArray(), b2.ToArray());
        Assert.Equal(ema.Shadow("a").ToArray(), ema2.Shadow("a").ToArray());
        Assert.Equal(ema.Shadow("b").ToArray(), ema2.Shadow("b").ToArray());
        var end1 = opt.ExportState(); var end2 = resumed.ExportState();
        Assert.Equal(end1.Counters, end2.Counters);
        foreach (var (k, t) in end1.Tensors) Assert.Equal(t.ToArray(), end2.Tensors[k].ToArray());
    }

    [Fact]
    public void ImportRejectsStateThatDoesNotFit()
    {
        var (a, b) = TwoParams();
        var opt = new AdamW([("a", a), ("b", b)]);
        FakeGrads(a, b, 2);
        opt.Step();
        var good = opt.ExportState();

        var other = new AdamW([("a", a), ("c", b)]);
        var ex = Assert.Throws<InvalidDataException>(() => other.ImportState(good));
        Assert.Contains("AdamW", ex.Message);
        Assert.Contains("b.exp_avg", ex.Message);

        var wrongShape = new OptimizerState { Step = 1 };
        wrongShape.Counters["b.step"] = 1;
        wrongShape.Tensors["b.exp_avg"] = Tensor.Zeros(4);
        wrongShape.Tensors["b.exp_avg_sq"] = Tensor.Zeros(5);
        Assert.Contains("shape", Assert.Throws<InvalidDataException>(() => opt.ImportState(wrongShape)).Message);

        var missingSlot = new OptimizerState { Step = 1 };
        missingSlot.Counters["b.step"] = 1;
        missingSlot.Tensors["b.exp_avg"] = Tensor.Zeros(5);
        Assert.Contains("b.exp_avg_sq", Assert.Throws<InvalidDataException>(() => opt.ImportState(missingSlot)).Message);
        // a failed import changed nothing
        Assert.Equal(good.Counters, opt.ExportState().Counters);

        var ema = new Ema([("a", a)]);
        Assert.Contains("Ema", Assert.Throws<InvalidDataException>(() => ema.ImportState(new OptimizerState())).Message);
    }

    // ------------------------------------------------------------ kernels

    [Fact]
    public void EveryElementGetsTheSameArithmeticAndThreadsDoNotMatter()
    {
        // 70001 elements: parallel chunks plus a ragged vector tail; equal inputs must give equal outputs
        float[] Run(int threads)
        {
            int saved = Threading.Threads;
            Threading.Threads = threads;
            try
            {
                var p = Tensor.Full(0.75f, 70001).RequireGrad();
                var opt = new AdamW([p], lr: 0.01, amsGrad: true);
                for (int s = 0; s < 3; s++)
                {
                    p.ZeroGrad();
                    p.Grad = Tensor.Full(0.3f - 0.2f * s, 70001);
                    opt.Step();
                }
                var q = Tensor.Full(0.75f, 70001).RequireGrad();
                q.Grad = Tensor.Full(0.5f, 70001);
                Gradients.ClipGradNorm([q], 1.0);
                var sgd = new Sgd([q], lr: 0.1, momentum: 0.9, nesterov: true);
                sgd.Step(); sgd.Step();
                return [.. p.ToArray(), .. q.ToArray(), (float)Gradients.TotalNorm([q])];
            }
            finally { Threading.Threads = saved; }
        }
        var one = Run(1);
        Assert.All(one.Take(70001), v => Assert.Equal(one[0], v));
        Assert.All(one.Skip(70001).Take(70001), v => Assert.Equal(one[70001], v));
        Assert.Equal(one, Run(2));
    }
}
