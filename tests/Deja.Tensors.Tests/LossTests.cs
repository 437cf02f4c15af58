using Deja.Tensors.Tests.Support;

namespace Deja.Tensors.Tests;

public class LossTests
{
    static double[] NaiveCosine(Tensor a, Tensor b, double eps)
    {
        // rows along the last dim of two [n, d] tensors, PyTorch's per-norm clamp
        int n = a.Shape[0], d = a.Shape[1];
        var A = a.ToArray(); var B = b.ToArray();
        var o = new double[n];
        for (int i = 0; i < n; i++)
        {
            double dot = 0, na = 0, nb = 0;
            for (int k = 0; k < d; k++) { dot += (double)A[i * d + k] * B[i * d + k]; na += (double)A[i * d + k] * A[i * d + k]; nb += (double)B[i * d + k] * B[i * d + k]; }
            o[i] = dot / (Math.Max(Math.Sqrt(na), eps) * Math.Max(Math.Sqrt(nb), eps));
        }
        return o;
    }

    [Fact]
    public void CosineSimilarityMatchesReference()
    {
        var a = Rand.Normal(1, 5, 7);
        var b = Rand.Normal(2, 5, 7);
        Close.All(NaiveCosine(a, b, 1e-8), Ops.CosineSimilarity(a, b).ReadOnlySpan, 1e-5, 1e-6);
        // Along another dim, with broadcasting.
        var c = Ops.CosineSimilarity(Ops.Transpose(a, 0, 1), Ops.Transpose(b, 0, 1), dim: 0);
        Close.All(NaiveCosine(a, b, 1e-8), c.ReadOnlySpan, 1e-5, 1e-6);
        var row = Ops.Narrow(b, 0, 2, 1);
        var bc = Ops.CosineSimilarity(a, row, dim: -1);
        Assert.Equal(new[] { 5 }, bc.Shape);
        Assert.Equal(Ops.CosineSimilarity(Ops.Narrow(a, 0, 2, 1), row, dim: 1).Item(), bc[2], 6);
        // Each norm is clamped on its own (a tiny vector keeps its direction against a big one).
        var tiny = Tensor.FromArray([1e-9f, 0f, 0f, 0f], 2, 2);
        var big = Tensor.FromArray([2f, 0f, 0f, 3f], 2, 2);
        Close.All(NaiveCosine(tiny, big, 1e-8), Ops.CosineSimilarity(tiny, big).ReadOnlySpan, 1e-5, 1e-7);
        Assert.Equal(0.1f, Ops.CosineSimilarity(tiny, big)[0], 5);
    }

    [Fact]
    public void CosineSimilarityBackward()
    {
        var a = Rand.Normal(3, 4, 6).RequireGrad();
        var b = Rand.Normal(4, 4, 6).RequireGrad();
        GradCheck.Check(t => Ops.CosineSimilarity(t[0], t[1]), [a, b]);
        GradCheck.Check(t => Ops.CosineSimilarity(t[0], t[1], dim: 0), [a, b]);
        GradCheck.CheckSecondOrder(t => Ops.CosineSimilarity(t[0], t[1]), [a, b]);
        // A zero vector: finite (zero) gradients rather than NaN.
        var z = Tensor.Zeros(1, 3).RequireGrad();
        var w = Tensor.FromArray([1f, 2f, 3f], 1, 3).RequireGrad();
        Ops.Sum(Ops.CosineSimilarity(z, w)).Backward();
        Assert.All(z.Grad!.ToArray(), v => Assert.True(float.IsFinite(v)));
        Assert.All(w.Grad!.ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void MseLossReductions()
    {
        var p = Rand.Normal(5, 3, 4);
        var t = Rand.Normal(6, 3, 4);
        var d = p.ToArray().Zip(t.ToArray(), (x, y) => (double)(x - y) * (x - y)).ToArray();
        Close.All(d, Ops.MseLoss(p, t, Reduction.None).ReadOnlySpan, 1e-6, 1e-7);
        Assert.Equal(d.Average(), Ops.MseLoss(p, t).Item(), d.Average() * 1e-6);
        Assert.Equal(d.Sum(), Ops.MseLoss(p, t, Reduction.Sum).Item(), d.Sum() * 1e-6);
        p.RequireGrad(); t.RequireGrad();
        GradCheck.Check(x => Ops.MseLoss(x[0], x[1]), [p, t]);
        GradCheck.Check(x => Ops.MseLoss(x[0], x[1], Reduction.None), [p, t]);
        GradCheck.CheckSecondOrder(x => Ops.MseLoss(x[0], x[1], Reduction.Sum), [p, t]);
    }

    [Fact]
    public void BadInputsNameTheOp()
    {
        Assert.Contains("mse_loss", Assert.Throws<ArgumentException>(() => Ops.MseLoss(Tensor.Zeros(2), Tensor.Zeros(3))).Message);
        Assert.Contains("cosine_similarity", Assert.Throws<ArgumentException>(() => Ops.CosineSimilarity(Tensor.Zeros(2, 3), Tensor.Zeros(2, 4))).Message);
        Assert.Contains("cosine_similarity", Assert.Throws<ArgumentOutOfRangeException>(() => Ops.CosineSimilarity(Tensor.Zeros(2, 3), Tensor.Zeros(2, 3), dim: 2)).Message);
    }
}
