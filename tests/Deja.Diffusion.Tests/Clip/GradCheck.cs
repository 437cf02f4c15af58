using Deja.Tensors;

namespace Deja.Diffusion.Tests.Clip;

/// <summary>
/// Autograd gradients against central finite differences (the approach of Deja.Tensors.Tests' GradCheck):
/// the probed scalar is L = Σ out ⊙ r for a fixed random r, so every output element matters.
/// </summary>
public static class GradCheck
{
    public static void Check(Func<Tensor[], Tensor> f, Tensor[] inputs, double eps = 1e-2, double rtol = 2e-2,
        double atol = 2e-3, int maxPerInput = 24, ulong seed = 7)
    {
        var rng = new Generator(seed);
        double[] r;
        using (GradMode.NoGrad())
        {
            using var probe = f(inputs);
            r = new double[probe.Length];
            for (int i = 0; i < r.Length; i++) r[i] = (float)rng.NextNormal();
        }
        foreach (var x in inputs) x.ZeroGrad();
        var output = f(inputs);
        using var rT = Tensor.FromArray(r.Select(v => (float)v).ToArray(), output.Shape);
        Ops.Sum(Ops.Mul(output, rT)).Backward();

        double Loss()
        {
            using var _ = GradMode.NoGrad();
            using var o = f(inputs);
            var s = o.ReadOnlySpan;
            double sum = 0;
            for (int i = 0; i < s.Length; i++) sum += s[i] * r[i];
            return sum;
        }

        for (int xi = 0; xi < inputs.Length; xi++)
        {
            var x = inputs[xi];
            Assert.True(x.Grad is not null, $"input {xi} got no gradient");
            var grad = x.Grad!.ToArray();
            var idx = Enumerable.Range(0, x.Length).ToArray();
            if (idx.Length > maxPerInput) idx = [.. idx.OrderBy(_ => rng.NextUInt64()).Take(maxPerInput)];
            foreach (var i in idx)
            {
                float orig = x.Span[i];
                x.Span[i] = orig + (float)eps; double lp = Loss();
                x.Span[i] = orig - (float)eps; double lm = Loss();
                x.Span[i] = orig;
                double fd = (lp - lm) / (2 * eps), a = grad[i];
                double tol = atol + rtol * Math.Max(Math.Abs(a), Math.Abs(fd));
                Assert.True(Math.Abs(a - fd) <= tol, $"input {xi} element {i}: autograd {a:G6} vs finite difference {fd:G6} (tol {tol:G3})");
            }
        }
    }
}
