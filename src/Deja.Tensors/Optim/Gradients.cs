using System.Numerics.Tensors;
using Deja.Tensors.Kernels;

namespace Deja.Tensors.Optim;

/// <summary>Whole-model gradient utilities (torch.nn.utils.clip_grad_norm_).</summary>
public static class Gradients
{
    const int Chunk = 1 << 16;

    /// <summary>
    /// The <paramref name="normType"/>-norm of all gradients together (as if concatenated), computed in
    /// double over fixed chunks summed in order, so it does not depend on the thread count.
    /// Parameters without a gradient are skipped; with none at all the norm is 0.
    /// </summary>
    public static double TotalNorm(IEnumerable<Tensor> parameters, double normType = 2)
    {
        if (!(normType > 0)) throw new ArgumentException($"clip_grad_norm: invalid norm type {normType}");
        bool inf = double.IsPositiveInfinity(normType);
        double total = 0;
        foreach (var p in parameters)
        {
            var g = p.Grad;
            if (g is null || g.Length == 0) continue;
            int chunks = (g.Length + Chunk - 1) / Chunk;
            var part = new double[chunks];
            float[] a = g.Array;
            int off = g.Offset, n = g.Length;
            Threading.For(chunks, c =>
            {
                int s = c * Chunk;
                part[c] = UpdateKernels.PowerSum(a.AsSpan(off + s, Math.Min(Chunk, n - s)), normType);
            });
            foreach (var v in part) total = inf ? (v > total || double.IsNaN(v) ? v : total) : total + v;
        }
        return inf || normType == 1 ? total : normType == 2 ? Math.Sqrt(total) : Math.Pow(total, 1 / normType);
    }

    /// <summary>
    /// Scales all gradients by maxNorm / (total + 1e-6) when the total norm exceeds
    /// <paramref name="maxNorm"/> (PyTorch semantics), and returns the total norm before clipping.
    /// A scaled gradient is a new tensor replacing .Grad, never an in-place write: a .Grad may share
    /// its buffer with another parameter's gradient or with a tensor the caller passed to Backward.
    /// </summary>
    public static double ClipGradNorm(IEnumerable<Tensor> parameters, double maxNorm, double normType = 2, bool errorIfNonfinite = false)
    {
        var list = parameters.ToList();
        double total = TotalNorm(list, normType);
        if (errorIfNonfinite && !double.IsFinite(total))
            throw new InvalidOperationException($"clip_grad_norm: the total norm of order {normType} of the gradients is {total}");
        double coef = maxNorm / (total + 1e-6);
        if (!(coef < 1)) return total;
        float f = (float)coef;
        foreach (var p in list)
        {
            var g = p.Grad;
            if (g is null) continue;
            var scaled = Tensor.Empty(g.Shape);
            float[] src = g.Array, dst = scaled.Array;
            int so = g.Offset, d0 = scaled.Offset;
            UpdateKernels.Run(g.Length, (s, e) => TensorPrimitives.Multiply(src.AsSpan(so + s, e - s), f, dst.AsSpan(d0 + s, e - s)));
            TensorScope.Untrack(scaled);
            p.Grad = scaled;
            g.Dispose();
        }
        return total;
    }
}
