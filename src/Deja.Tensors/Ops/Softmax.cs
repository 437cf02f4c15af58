using Deja.Tensors.Kernels;

namespace Deja.Tensors;

// Softmax and log-softmax along one dim; stable (max-shifted) kernels, differentiable backward passes.
public static partial class Ops
{
    /// <summary>exp(x) / Σ exp(x) along <paramref name="dim"/>.</summary>
    public static Tensor Softmax(Tensor x, int dim)
    {
        var (o, ax) = SoftmaxForward(x, dim, log: false, "softmax");
        // dx = y·g − y·Σ(y·g)
        return Autograd.Record(o, "softmax", [x], g =>
        {
            using var gy = Mul(g, o);
            using var s = Sum(gy, [ax], keepDim: true);
            using var ys = Mul(o, s);
            return [Sub(gy, ys)];
        }, o);
    }

    /// <summary>x − log Σ exp(x) along <paramref name="dim"/>.</summary>
    public static Tensor LogSoftmax(Tensor x, int dim)
    {
        var (o, ax) = SoftmaxForward(x, dim, log: true, "log_softmax");
        // dx = g − softmax·Σg
        return Autograd.Record(o, "log_softmax", [x], g =>
        {
            using var s = Sum(g, [ax], keepDim: true);
            using var p = Exp(o);
            using var ps = Mul(p, s);
            return [Sub(g, ps)];
        }, o);
    }

    static (Tensor Output, int Axis) SoftmaxForward(Tensor x, int dim, bool log, string op)
    {
        int ax = Shapes.Axis(dim, x.Rank, op);
        int outer = 1, inner = 1;
        for (int i = 0; i < ax; i++) outer *= x.Shape[i];
        for (int i = ax + 1; i < x.Rank; i++) inner *= x.Shape[i];
        var o = Tensor.Empty(x.Shape);
        SoftmaxKernel.Apply(x.Array, x.Offset, o.Array, o.Offset, outer, x.Shape[ax], inner, log);
        return (o, ax);
    }
}
