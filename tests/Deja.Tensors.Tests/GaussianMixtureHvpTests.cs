using Deja.Tensors.Tests.Support;

namespace Deja.Tensors.Tests;

/// <summary>
/// The use the double backward exists for: Hessian-vector products of the log-density of an analytic
/// Gaussian mixture, log p(x) = logsumexp_k(log w_k − ‖x − μ_k‖²/(2σ²)) + const, through exp/log/sum/max/
/// mul/matmul/softmax, checked against the closed form in double precision.
/// </summary>
public class GaussianMixtureHvpTests
{
    const int B = 3, D = 4, K = 5;
    const float Sigma = 0.8f;

    static readonly Tensor Mu = Rand.Normal(31, K, D);
    static readonly Tensor LogW = Ops.LogSoftmax(Rand.Normal(32, K), 0);

    /// <summary>Component log-weights minus squared distances / 2σ²: [B, K], with ‖x−μ‖² = ‖x‖² − 2x·μ + ‖μ‖² via matmul.</summary>
    static Tensor Logits(Tensor x)
    {
        var xx = Ops.Sum(Ops.Square(x), [1], keepDim: true);          // [B, 1]
        var mm = Ops.Reshape(Ops.Sum(Ops.Mul(Mu, Mu), [1]), 1, K);     // [1, K]
        var xm = Ops.MatMul(x, Mu, transB: true);                      // [B, K]
        var d2 = Ops.Add(Ops.Sub(xx, Ops.MulScalar(xm, 2f)), mm);
        return Ops.Add(Ops.MulScalar(d2, -0.5f / (Sigma * Sigma)), Ops.Reshape(LogW, 1, K));
    }

    static Tensor LogDensityLse(Tensor x) => Ops.LogSumExp(Logits(x), [1]);

    /// <summary>The same density by hand: max-shifted log Σ exp.</summary>
    static Tensor LogDensityManual(Tensor x)
    {
        var a = Logits(x);
        var m = Ops.Max(a, [1], keepDim: true);
        var s = Ops.Sum(Ops.Exp(Ops.Sub(a, m)), [1], keepDim: true);
        return Ops.Reshape(Ops.Add(m, Ops.Log(s)), B);
    }

    /// <summary>The score by the softmax form: Σ_k r_k (μ_k − x)/σ² with responsibilities r = softmax(logits).</summary>
    static Tensor ScoreBySoftmax(Tensor x)
    {
        var r = Ops.Softmax(Logits(x), 1);                               // [B, K]
        return Ops.MulScalar(Ops.Sub(Ops.MatMul(r, Mu), x), 1f / (Sigma * Sigma));
    }

    /// <summary>
    /// Closed forms per row, in double: score = (m − x)/σ², H·v = ((Σ r_k μ_k μ_kᵀ − m mᵀ)/σ⁴ − I/σ²)·v,
    /// with responsibilities r = softmax(logits) and m = Σ r_k μ_k.
    /// </summary>
    static (double[] Score, double[] Hvp) Exact(Tensor x, Tensor v)
    {
        var X = x.ToArray(); var V = v.ToArray(); var M = Mu.ToArray(); var L = LogW.ToArray();
        double s2 = (double)Sigma * Sigma;
        var score = new double[B * D];
        var hvp = new double[B * D];
        for (int b = 0; b < B; b++)
        {
            var logit = new double[K];
            for (int k = 0; k < K; k++)
            {
                double d2 = 0;
                for (int d = 0; d < D; d++) { double t = X[b * D + d] - M[k * D + d]; d2 += t * t; }
                logit[k] = L[k] - d2 / (2 * s2);
            }
            double mx = logit.Max(), z = logit.Sum(t => Math.Exp(t - mx));
            var r = logit.Select(t => Math.Exp(t - mx) / z).ToArray();
            var mean = new double[D];
            for (int k = 0; k < K; k++) for (int d = 0; d < D; d++) mean[d] += r[k] * M[k * D + d];
            for (int i = 0; i < D; i++)
            {
                score[b * D + i] = (mean[i] - X[b * D + i]) / s2;
                double acc = -V[b * D + i] / s2;
                for (int j = 0; j < D; j++)
                {
                    double c = -mean[i] * mean[j];
                    for (int k = 0; k < K; k++) c += r[k] * M[k * D + i] * M[k * D + j];
                    acc += c / (s2 * s2) * V[b * D + j];
                }
                hvp[b * D + i] = acc;
            }
        }
        return (score, hvp);
    }

    [Fact]
    public void HessianVectorProductsMatchTheClosedForm()
    {
        var v = Rand.Normal(34, B, D);
        foreach (var f in new Func<Tensor, Tensor>[] { LogDensityLse, LogDensityManual })
        {
            var x = Rand.Normal(33, B, D).RequireGrad();
            var score = Autograd.Grad(Ops.Sum(f(x)), x, createGraph: true)!;
            var exact = Exact(x, v);
            Close.All(exact.Score, score.ReadOnlySpan, 1e-4, 1e-5, "score");
            var hvp = Autograd.Grad(Ops.Sum(Ops.Mul(score, v)), x)!;
            Close.All(exact.Hvp, hvp.ReadOnlySpan, 1e-3, 1e-4, "hvp");
        }
        // Differentiating the softmax form of the score once more gives the same H·v.
        var x2 = Rand.Normal(33, B, D).RequireGrad();
        var hvp2 = Autograd.Grad(Ops.Sum(Ops.Mul(ScoreBySoftmax(x2), v)), x2)!;
        Close.All(Exact(x2, v).Hvp, hvp2.ReadOnlySpan, 1e-3, 1e-4, "hvp via softmax");
    }
}
