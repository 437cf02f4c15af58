using Deja.Tensors;

namespace Deja.Tensors.Tests.Support;

/// <summary>
/// Compares autograd gradients with central finite differences. The scalar probed is
/// L = Σ out ⊙ r for a fixed random r, accumulated in double, so every output element matters.
/// </summary>
public static class GradCheck
{
    /// <summary>
    /// Checks d L / d input for every input that requires grad, on up to <paramref name="maxPerInput"/>
    /// randomly chosen elements of each.
    /// </summary>
    public static void Check(Func<Tensor[], Tensor> f, Tensor[] inputs, double eps = 1e-2, double rtol = 2e-2,
        double atol = 2e-3, int maxPerInput = 48, ulong seed = 7, bool lossNeedsGrad = false)
    {
        var rng = new Generator(seed);
        Tensor probe;
        double[] r;
        using (GradMode.Set(lossNeedsGrad))
        {
            probe = f(inputs);
            r = new double[probe.Length];
            for (int i = 0; i < r.Length; i++) r[i] = rng.NextNormal();
        }
        foreach (var x in inputs) x.ZeroGrad();
        var output = f(inputs);
        var rT = Tensor.FromArray(r.Select(v => (float)v).ToArray(), output.Shape);
        Ops.Sum(Ops.Mul(output, rT)).Backward();

        double Loss()
        {
            using var _ = GradMode.Set(lossNeedsGrad);
            var o = f(inputs).ReadOnlySpan;
            double s = 0;
            for (int i = 0; i < o.Length; i++) s += o[i] * (double)(float)r[i];
            return s;
        }

        for (int xi = 0; xi < inputs.Length; xi++)
        {
            var x = inputs[xi];
            if (!x.RequiresGrad) continue;
            Assert.True(x.Grad is not null, $"input {xi} got no gradient");
            var grad = x.Grad!.ToArray();
            var idx = Enumerable.Range(0, x.Length).ToArray();
            if (idx.Length > maxPerInput) idx = idx.OrderBy(_ => rng.NextUInt64()).Take(maxPerInput).ToArray();
            foreach (var i in idx)
            {
                var data = x.Span;
                float orig = data[i];
                data[i] = orig + (float)eps; double lp = Loss();
                data = x.Span; data[i] = orig - (float)eps; double lm = Loss();
                data = x.Span; data[i] = orig;
                double fd = (lp - lm) / (2 * eps);
                double a = grad[i];
                double tol = atol + rtol * Math.Max(Math.Abs(a), Math.Abs(fd));
                Assert.True(Math.Abs(a - fd) <= tol, $"input {xi} element {i}: autograd {a:G6} vs finite difference {fd:G6} (tol {tol:G3})");
            }
        }
    }

    /// <summary>
    /// Checks the gradient of the gradient: for g(x) = ∂L/∂x computed with createGraph, compares
    /// ∂⟨g(x), v⟩/∂x with finite differences of ⟨g(x), v⟩.
    /// </summary>
    public static void CheckSecondOrder(Func<Tensor[], Tensor> f, Tensor[] inputs, double eps = 1e-2, double rtol = 3e-2, double atol = 3e-3, ulong seed = 11)
    {
        var rng = new Generator(seed);
        Tensor Inner(Tensor[] xs)
        {
            var o = f(xs);
            var r = Tensor.RandN(new Generator(seed + 1), o.Shape);
            var l = Ops.Sum(Ops.Mul(o, r));
            var gs = Autograd.Grad([l], xs.Where(x => x.RequiresGrad).ToArray(), createGraph: true);
            Tensor acc = Tensor.Zeros(1);
            int k = 0;
            foreach (var g in gs)
            {
                var v = Tensor.RandN(new Generator(seed + 100 + (ulong)k++), g!.Shape);
                acc = Ops.Add(acc, Ops.Reshape(Ops.Sum(Ops.Mul(g, v)), 1));
            }
            return acc;
        }
        Check(Inner, inputs, eps, rtol, atol, 24, seed, lossNeedsGrad: true);
    }
}
