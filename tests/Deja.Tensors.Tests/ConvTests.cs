using Deja.Tensors.Kernels;
using Deja.Tensors.Tests.Support;

namespace Deja.Tensors.Tests;

[Collection(Deja.Tensors.Tests.ThreadSensitive.Name)]
public class ConvTests
{
    // ------------------------------------------------------------------ double-precision references

    static int OutSize(int size, int k, int s, int p) => (size + 2 * p - k) / s + 1;

    static double[] NaiveConv(Tensor x, Tensor w, Tensor? b, int s, int p)
    {
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], wd = x.Shape[3];
        int o = w.Shape[0], kh = w.Shape[2], kw = w.Shape[3];
        int ho = OutSize(h, kh, s, p), wo = OutSize(wd, kw, s, p);
        var X = x.ToArray(); var W = w.ToArray(); var B = b?.ToArray();
        var y = new double[n * o * ho * wo];
        for (int ni = 0; ni < n; ni++) for (int oi = 0; oi < o; oi++) for (int yy = 0; yy < ho; yy++) for (int xx = 0; xx < wo; xx++)
        {
            double acc = B is null ? 0 : B[oi];
            for (int ci = 0; ci < c; ci++) for (int ky = 0; ky < kh; ky++) for (int kx = 0; kx < kw; kx++)
            {
                int iy = yy * s + ky - p, ix = xx * s + kx - p;
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                acc += (double)X[((ni * c + ci) * h + iy) * wd + ix] * W[((oi * c + ci) * kh + ky) * kw + kx];
            }
            y[((ni * o + oi) * ho + yy) * wo + xx] = acc;
        }
        return y;
    }

    /// <summary>dx, dw, db of Σ y ⊙ gy, straight from the definition.</summary>
    static (double[] dx, double[] dw, double[] db) NaiveGrads(Tensor x, Tensor w, Tensor gy, int s, int p)
    {
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], wd = x.Shape[3];
        int o = w.Shape[0], kh = w.Shape[2], kw = w.Shape[3];
        int ho = gy.Shape[2], wo = gy.Shape[3];
        var X = x.ToArray(); var W = w.ToArray(); var G = gy.ToArray();
        var dx = new double[X.Length]; var dw = new double[W.Length]; var db = new double[o];
        for (int ni = 0; ni < n; ni++) for (int oi = 0; oi < o; oi++) for (int yy = 0; yy < ho; yy++) for (int xx = 0; xx < wo; xx++)
        {
            double g = G[((ni * o + oi) * ho + yy) * wo + xx];
            db[oi] += g;
            for (int ci = 0; ci < c; ci++) for (int ky = 0; ky < kh; ky++) for (int kx = 0; kx < kw; kx++)
            {
                int iy = yy * s + ky - p, ix = xx * s + kx - p;
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                int xi = ((ni * c + ci) * h + iy) * wd + ix, wi = ((oi * c + ci) * kh + ky) * kw + kx;
                dx[xi] += g * W[wi];
                dw[wi] += g * X[xi];
            }
        }
        return (dx, dw, db);
    }

    // n, c, h, w, o, kh, kw, stride, padding, bias
    public static TheoryData<int, int, int, int, int, int, int, int, int, bool> Cases => new()
    {
        { 1, 3, 5, 7, 4, 3, 3, 1, 1, true },    // SD's 3×3 pad 1, non-square
        { 3, 2, 6, 5, 3, 3, 3, 2, 1, false },   // downsampler: stride 2 pad 1, odd width
        { 2, 5, 4, 6, 6, 1, 1, 1, 0, true },    // 1×1: a plain GEMM
        { 1, 4, 7, 6, 2, 1, 1, 2, 0, true },    // 1×1 stride 2: pixels that no tap reads
        { 2, 3, 8, 9, 4, 3, 3, 1, 2, true },    // padding 2
        { 1, 3, 9, 8, 5, 3, 3, 2, 2, false },
        { 3, 3, 5, 5, 2, 3, 3, 1, 0, true },    // 3×3 without padding: the input is used in place
        { 1, 2, 7, 5, 3, 3, 3, 2, 0, false },
        { 2, 3, 6, 7, 2, 3, 1, 1, 1, true },    // kernel 3×1: output written by the GEMM itself
        { 2, 3, 6, 7, 2, 1, 3, 1, 0, true },    // kernel 1×3
        { 1, 2, 9, 9, 3, 3, 3, 3, 1, true },    // stride 3
        { 1, 3, 10, 37, 2, 3, 3, 2, 1, true },  // stride 2, rows wide enough for the SIMD (de)interleave
        { 2, 2, 6, 40, 3, 1, 1, 2, 0, false },  // 1×1 stride 2, wide rows: one phase of two
        { 3, 3, 40, 40, 2, 3, 3, 1, 1, true },  // groups of 2 images with a remainder
        { 1, 64, 6, 5, 3, 3, 3, 1, 1, true },   // taps stacked 4, 4, 1 per GEMM
        { 1, 2, 130, 129, 2, 3, 3, 1, 1, true }, // stacked taps in two column tiles
        { 2, 300, 4, 4, 5, 3, 3, 1, 1, true },  // one tap per GEMM
        { 3, 300, 5, 6, 4, 3, 3, 2, 1, false },
        // small outputs, many output channels: im2col
        { 2, 5, 4, 3, 40, 3, 3, 1, 1, true },
        { 1, 3, 5, 4, 30, 3, 3, 1, 1, true },   // one image: the GEMM writes the output
        { 3, 4, 6, 5, 24, 3, 3, 2, 1, false },
        { 1, 3, 5, 5, 20, 3, 3, 1, 0, true },   // ... and reads the input in place
    };

    /// <summary>Runs <paramref name="body"/> with each conv strategy: shifted GEMMs, im2col, and the size-based choice.</summary>
    static void EachStrategy(Action<string> body)
    {
        foreach (var force in new bool?[] { false, true, null })
        {
            ConvGeometry.ForceIm2col = force;
            try { body(force switch { false => "shifted", true => "im2col", _ => "auto" }); }
            finally { ConvGeometry.ForceIm2col = null; }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardMatchesDoubleReference(int n, int c, int h, int w, int o, int kh, int kw, int s, int p, bool hasBias)
    {
        var x = Rand.Normal(1, n, c, h, w);
        var wt = Rand.Normal(2, o, c, kh, kw);
        var b = hasBias ? Rand.Normal(3, o) : null;
        var expected = NaiveConv(x, wt, b, s, p);
        EachStrategy(how =>
        {
            var y = Ops.Conv2d(x, wt, b, s, p);
            Assert.Equal(new[] { n, o, OutSize(h, kh, s, p), OutSize(w, kw, s, p) }, y.Shape);
            Close.All(expected, y.ReadOnlySpan, 1e-4, 1e-4, how);
        });
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GradientsMatchDoubleReference(int n, int c, int h, int w, int o, int kh, int kw, int s, int p, bool hasBias)
    {
        var x = Rand.Normal(1, n, c, h, w).RequireGrad();
        var wt = Rand.Normal(2, o, c, kh, kw).RequireGrad();
        var b = hasBias ? Rand.Normal(3, o).RequireGrad() : null;
        var gy = Rand.Normal(4, n, o, OutSize(h, kh, s, p), OutSize(w, kw, s, p));
        var (dx, dw, db) = NaiveGrads(x, wt, gy, s, p);
        EachStrategy(how =>
        {
            x.ZeroGrad(); wt.ZeroGrad(); b?.ZeroGrad();
            Ops.Conv2d(x, wt, b, s, p).Backward(gy);
            Close.All(dx, x.Grad!.ReadOnlySpan, 1e-4, 1e-4, how + " dx");
            Close.All(dw, wt.Grad!.ReadOnlySpan, 1e-4, 1e-4, how + " dw");
            if (b is not null) Close.All(db, b.Grad!.ReadOnlySpan, 1e-4, 1e-4, how + " db");
        });
    }

    [Fact]
    public void ManagedGemmFallbackGivesTheSameResults()
    {
        // the strided operands (lda = taps·C, shifted B) must work without OpenBLAS too
        var x = Rand.Normal(1, 2, 3, 7, 6).RequireGrad();
        var w = Rand.Normal(2, 4, 3, 3, 3).RequireGrad();
        var b = Rand.Normal(3, 4).RequireGrad();
        var gy = Rand.Normal(4, 2, 4, 4, 3);
        var y0 = Ops.Conv2d(x, w, b, 2, 1).ToArray();
        var (dx, dw, db) = NaiveGrads(x, w, gy, 2, 1);
        Gemm.ForceManaged = true;
        try
        {
            EachStrategy(how =>
            {
                x.ZeroGrad(); w.ZeroGrad(); b.ZeroGrad();
                var y = Ops.Conv2d(x, w, b, 2, 1);
                Close.All(y0, y.ReadOnlySpan, 1e-5, 1e-5, how + " y");
                y.Backward(gy);
                Close.All(dx, x.Grad!.ReadOnlySpan, 1e-4, 1e-4, how + " dx");
                Close.All(dw, w.Grad!.ReadOnlySpan, 1e-4, 1e-4, how + " dw");
                Close.All(db, b.Grad!.ReadOnlySpan, 1e-4, 1e-4, how + " db");
            });
        }
        finally { Gemm.ForceManaged = false; }
    }

    [Theory]
    [InlineData(2, 320, 64, 64, 320, 1, false)] // SD 64×64: shifted GEMMs, one image per GEMM
    [InlineData(2, 640, 32, 32, 640, 1, true)]  // SD 32×32 and below: im2col
    [InlineData(2, 1280, 8, 8, 1280, 1, true)]
    [InlineData(2, 320, 64, 64, 320, 2, true)]  // the downsampler
    [InlineData(2, 4, 64, 64, 320, 1, false)]   // conv_in: all nine taps stacked
    public void StrategyFollowsTheShape(int n, int c, int h, int w, int o, int stride, bool im2col)
    {
        var g = new ConvGeometry(n, c, h, w, o, 3, 3, stride, 1);
        Assert.Equal(im2col, g.Im2col);
        if (!im2col) Assert.Equal(c < 256 ? 9 : 1, g.TapsPerGemm);
    }

    [Theory]
    [InlineData(3, 1, 1)]
    [InlineData(3, 2, 1)]
    [InlineData(1, 1, 0)]
    [InlineData(3, 1, 0)]
    public void GradientsMatchFiniteDifferences(int k, int s, int p)
    {
        var x = Rand.Normal(1, 2, 3, 5, 4).RequireGrad();
        var w = Rand.Normal(2, 2, 3, k, k).RequireGrad();
        var b = Rand.Normal(3, 2).RequireGrad();
        GradCheck.Check(t => Ops.Conv2d(t[0], t[1], t[2], s, p), [x, w, b]);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 1)]
    public void SecondOrderGradientsMatchFiniteDifferences(int s, int p)
    {
        // conv is bilinear in (x, w); squaring the output makes every second derivative non-zero
        var x = Rand.Normal(1, 1, 2, 5, 4).RequireGrad();
        var w = Rand.Normal(2, 2, 2, 3, 3).RequireGrad();
        var b = Rand.Normal(3, 2).RequireGrad();
        GradCheck.CheckSecondOrder(t => { var y = Ops.Conv2d(t[0], t[1], t[2], s, p); return Ops.Mul(y, y); }, [x, w, b]);
    }

    [Fact]
    public void GradientOpsAreAdjointsOfConv()
    {
        // ⟨conv(x, w), g⟩ = ⟨x, input_grad(g, w)⟩ = ⟨w, weight_grad(g, x)⟩
        var x = Rand.Normal(1, 2, 3, 7, 6); var w = Rand.Normal(2, 4, 3, 3, 3);
        var y = Ops.Conv2d(x, w, null, 2, 1);
        var g = Rand.Normal(3, y.Shape);
        double Dot(Tensor a, Tensor b) { double s = 0; for (int i = 0; i < a.Length; i++) s += (double)a.ReadOnlySpan[i] * b.ReadOnlySpan[i]; return s; }
        double lhs = Dot(y, g);
        Assert.Equal(lhs, Dot(x, Ops.Conv2dInputGrad(g, w, 7, 6, 2, 1)), 3);
        Assert.Equal(lhs, Dot(w, Ops.Conv2dWeightGrad(g, x, 3, 3, 2, 1)), 3);
    }

    [Theory]
    [InlineData(48, 20, 18, 40)] // shifted GEMMs
    [InlineData(64, 6, 5, 200)]  // im2col
    public void ThreadCountDoesNotChangeResults(int c, int h, int wd, int o)
    {
        var x = Rand.Normal(1, 2, c, h, wd).RequireGrad();
        var w = Rand.Normal(2, o, c, 3, 3).RequireGrad();
        var b = Rand.Normal(3, o).RequireGrad();
        (float[] y, float[] dx, float[] dw, float[] db) Run(int stride)
        {
            x.ZeroGrad(); w.ZeroGrad(); b.ZeroGrad();
            var y = Ops.Conv2d(x, w, b, stride, 1);
            y.Backward(Rand.Normal(4, y.Shape));
            return (y.ToArray(), x.Grad!.ToArray(), w.Grad!.ToArray(), b.Grad!.ToArray());
        }
        int saved = Threading.Threads;
        foreach (var stride in new[] { 1, 2 })
        {
            try
            {
                Threading.Threads = 1;
                var one = Run(stride);
                Threading.Threads = 2;
                var two = Run(stride);
                Close.All(one.y, two.y, 1e-5, 1e-6, "y");
                Close.All(one.dx, two.dx, 1e-5, 1e-6, "dx");
                Close.All(one.dw, two.dw, 1e-5, 1e-6, "dw");
                Close.All(one.db, two.db, 1e-5, 1e-6, "db");
            }
            finally { Threading.Threads = saved; }
        }
    }

    [Fact]
    public void BadInputsNameConv2dAndTheShapes()
    {
        var x = Tensor.Zeros(2, 3, 8, 8);
        void Throws(Action a, params string[] parts)
        {
            var ex = Assert.Throws<ArgumentException>(a);
            Assert.Contains("conv2d", ex.Message);
            foreach (var s in parts) Assert.Contains(s, ex.Message);
        }
        Throws(() => Ops.Conv2d(x, Tensor.Zeros(4, 5, 3, 3)), "[2,3,8,8]", "[4,5,3,3]");
        Throws(() => Ops.Conv2d(Tensor.Zeros(3, 8, 8), Tensor.Zeros(4, 3, 3, 3)), "[3,8,8]");
        Throws(() => Ops.Conv2d(x, Tensor.Zeros(4, 3, 3)), "[4,3,3]");
        Throws(() => Ops.Conv2d(x, Tensor.Zeros(4, 3, 3, 3), Tensor.Zeros(5)), "[5]", "[4,3,3,3]");
        Throws(() => Ops.Conv2d(x, Tensor.Zeros(4, 3, 3, 3), null, stride: 0), "stride");
        Throws(() => Ops.Conv2d(x, Tensor.Zeros(4, 3, 3, 3), null, padding: -1), "padding");
        Throws(() => Ops.Conv2d(x, Tensor.Zeros(4, 3, 9, 9)), "[4,3,9,9]", "[2,3,8,8]");
        Throws(() => Ops.Conv2dInputGrad(Tensor.Zeros(2, 4, 7, 8), Tensor.Zeros(4, 3, 3, 3), 8, 8, 1, 1), "[2,4,7,8]");
        Throws(() => Ops.Conv2dWeightGrad(Tensor.Zeros(1, 4, 8, 8), x, 3, 3, 1, 1), "[1,4,8,8]", "[2,3,8,8]");
    }

    [Fact]
    public void EmptyBatchGivesEmptyOutputAndZeroWeightGrad()
    {
        var x = Tensor.Zeros(0, 3, 5, 5).RequireGrad();
        var w = Rand.Normal(1, 2, 3, 3, 3).RequireGrad();
        var y = Ops.Conv2d(x, w, null, 1, 1);
        Assert.Equal(new[] { 0, 2, 5, 5 }, y.Shape);
        Assert.All(Ops.Conv2dWeightGrad(Tensor.Zeros(0, 2, 5, 5), x, 3, 3, 1, 1).ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void ModuleHasPyTorchNamesShapesAndInitRange()
    {
        var conv = new Nn.Conv2d(4, 6, 3, padding: 1, init: new Generator(5));
        var p = conv.NamedParameters().ToDictionary(t => t.Name, t => t.Value);
        Assert.Equal(new[] { "bias", "weight" }, p.Keys.Order().ToArray());
        Assert.Equal(new[] { 6, 4, 3, 3 }, p["weight"].Shape);
        Assert.Equal(new[] { 6 }, p["bias"].Shape);
        float bound = 1f / MathF.Sqrt(4 * 9);
        Assert.All(p["weight"].ToArray().Concat(p["bias"].ToArray()), v => Assert.InRange(v, -bound, bound));
        Assert.True(p["weight"].ToArray().Max() > 0.8f * bound);
        var x = Rand.Normal(1, 2, 4, 5, 7);
        Close.All(NaiveConv(x, conv.Weight, conv.Bias, 1, 1), conv.Forward(x).ReadOnlySpan, 1e-4, 1e-4);
    }

    // ------------------------------------------------------------------ upsampling

    [Theory]
    [InlineData(1, 1, 1, 1)]
    [InlineData(2, 3, 5, 7)]
    [InlineData(1, 2, 3, 37)] // SIMD body plus a tail
    public void UpsampleNearest2xMatchesReferenceAndSumsBlocksBackward(int n, int c, int h, int w)
    {
        var x = Rand.Normal(1, n, c, h, w).RequireGrad();
        var y = Ops.UpsampleNearest2x(x);
        Assert.Equal(new[] { n, c, 2 * h, 2 * w }, y.Shape);
        var X = x.ToArray();
        var e = new double[y.Length];
        for (int p = 0; p < n * c; p++) for (int i = 0; i < 2 * h; i++) for (int j = 0; j < 2 * w; j++)
            e[(p * 2 * h + i) * 2 * w + j] = X[(p * h + i / 2) * w + j / 2];
        Close.All(e, y.ReadOnlySpan, 0, 0);

        var g = Rand.Normal(2, y.Shape);
        y.Backward(g);
        var G = g.ToArray();
        var dx = new double[x.Length];
        for (int p = 0; p < n * c; p++) for (int i = 0; i < 2 * h; i++) for (int j = 0; j < 2 * w; j++)
            dx[(p * h + i / 2) * w + j / 2] += G[(p * 2 * h + i) * 2 * w + j];
        Close.All(dx, x.Grad!.ReadOnlySpan, 1e-6, 1e-6);
    }

    [Fact]
    public void UpsampleGradientsToSecondOrder()
    {
        var x = Rand.Normal(1, 1, 2, 3, 4).RequireGrad();
        GradCheck.Check(t => Ops.UpsampleNearest2x(t[0]), [x]);
        GradCheck.CheckSecondOrder(t => { var y = Ops.UpsampleNearest2x(t[0]); return Ops.Mul(y, y); }, [x]);
        var z = Rand.Normal(2, 1, 2, 4, 6).RequireGrad();
        GradCheck.CheckSecondOrder(t => { var y = Ops.SumPool2x(t[0]); return Ops.Mul(y, y); }, [z]);
    }

    [Fact]
    public void UpsampleBadInputsNameTheOp()
    {
        var ex = Assert.Throws<ArgumentException>(() => Ops.UpsampleNearest2x(Tensor.Zeros(3, 4, 5)));
        Assert.Contains("upsample_nearest2x", ex.Message);
        Assert.Contains("[3,4,5]", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Ops.SumPool2x(Tensor.Zeros(1, 2, 3, 4)));
        Assert.Contains("sum_pool2x", ex.Message);
    }
}
