using System.Numerics.Tensors;
using Deja.Tensors.Kernels;

namespace Deja.Tensors;

// Reductions beyond Sum (Arithmetic.cs). dims: the dims to reduce, all when empty; negative dims count
// from the end; keepDim keeps them as size 1. Backward passes are differentiable (double backward works).
public static partial class Ops
{
    // ------------------------------------------------------------ mean, var

    public static Tensor Mean(Tensor x, int[] dims, bool keepDim = false)
    {
        int count = ReducedCount(x.Shape, dims, "mean");
        using var s = Sum(x, dims, keepDim);
        return MulScalar(s, 1f / count);
    }

    public static Tensor Mean(Tensor x) => Mean(x, []);
    public static Tensor Mean(Tensor x, int dim, bool keepDim = false) => Mean(x, [dim], keepDim);

    /// <summary>
    /// Variance over <paramref name="dims"/>: Σ(x − mean)² / (n − 1) when <paramref name="unbiased"/>
    /// (the default, as torch.var), else / n (the population variance). Two passes, so no cancellation.
    /// </summary>
    public static Tensor Var(Tensor x, int[] dims, bool unbiased = true, bool keepDim = false)
    {
        int count = ReducedCount(x.Shape, dims, "var");
        using var mean = Mean(x, dims, keepDim: true);
        using var dev = Sub(x, mean);
        using var sq = Square(dev);
        using var s = Sum(sq, dims, keepDim);
        return MulScalar(s, 1f / (unbiased ? count - 1 : count));
    }

    public static Tensor Var(Tensor x, bool unbiased = true) => Var(x, [], unbiased);
    public static Tensor Var(Tensor x, int dim, bool unbiased = true, bool keepDim = false) => Var(x, [dim], unbiased, keepDim);

    /// <summary>How many elements each output of a reduction over <paramref name="dims"/> combines.</summary>
    static int ReducedCount(int[] shape, int[] dims, string op)
    {
        var (_, reduced) = ReducedShapes(shape, dims, op);
        int n = 1;
        for (int i = 0; i < shape.Length; i++) if (reduced[i]) n *= shape[i];
        return n;
    }

    // ------------------------------------------------------------ max, min

    /// <summary>Maximum over dims (values). The gradient goes to the first maximal element of each reduced group.</summary>
    public static Tensor Max(Tensor x, int[] dims, bool keepDim = false) => MaxOrMin(x, dims, keepDim, max: true);
    public static Tensor Max(Tensor x) => Max(x, []);
    public static Tensor Max(Tensor x, int dim, bool keepDim = false) => Max(x, [dim], keepDim);

    /// <summary>Minimum over dims (values). The gradient goes to the first minimal element of each reduced group.</summary>
    public static Tensor Min(Tensor x, int[] dims, bool keepDim = false) => MaxOrMin(x, dims, keepDim, max: false);
    public static Tensor Min(Tensor x) => Min(x, []);
    public static Tensor Min(Tensor x, int dim, bool keepDim = false) => Min(x, [dim], keepDim);

    static Tensor MaxOrMin(Tensor x, int[] dims, bool keepDim, bool max)
    {
        string op = max ? "max" : "min";
        var (keep, reduced) = ReducedShapes(x.Shape, dims, op);
        for (int i = 0; i < x.Rank; i++)
            if (reduced[i] && x.Shape[i] == 0)
                throw new ArgumentException($"{op}: cannot reduce over dim {i} of size 0 in {Shapes.Str(x.Shape)}");
        var o = Tensor.Empty(keep);
        OverReducedDims(x, reduced, (src, off, outer, red, inner) => Reduce.Extreme(src, off, o.Array, o.Offset, outer, red, inner, max));
        var result = keepDim ? o : ReshapeNoGrad(o, Drop(keep, reduced));
        return Autograd.Record(result, op, [x], g =>
        {
            using var mask = FirstMatchMask(x, result, reduced);
            return [ReductionGradTimes(g, keep, x.Shape, mask)];
        }, x, result);
    }

    /// <summary>1 at the first element of each reduced group equal to its value in <paramref name="values"/>.</summary>
    static Tensor FirstMatchMask(Tensor x, Tensor values, bool[] reduced)
    {
        var mask = Tensor.Empty(x.Shape);
        if (ReductionRun(x.Shape, reduced) is { } run)
        {
            var (outer, red, inner) = run;
            Reduce.FirstMatchMask(x.Array, x.Offset, values.Array, values.Offset, mask.Array, mask.Offset, outer, red, inner);
            return mask;
        }
        // Work in the layout with the reduced dims last, then move the mask back.
        var (perm, inverse, rows, cols) = ReducedLast(x.Shape, reduced);
        var xs = BufferPool.Rent(x.Length);
        var ms = BufferPool.Rent(x.Length);
        PermuteKernel.Apply(x.Array, x.Offset, x.Shape, perm, xs, 0);
        Reduce.FirstMatchMask(xs, 0, values.Array, values.Offset, ms, 0, rows, cols, 1);
        PermuteKernel.Apply(ms, 0, perm.Select(d => x.Shape[d]).ToArray(), inverse, mask.Array, mask.Offset);
        BufferPool.Return(xs);
        BufferPool.Return(ms);
        return mask;
    }

    // ------------------------------------------------------------ logsumexp

    /// <summary>log Σ exp(x) over dims, computed stably (shifted by the maximum).</summary>
    public static Tensor LogSumExp(Tensor x, int[] dims, bool keepDim = false)
    {
        var (keep, reduced) = ReducedShapes(x.Shape, dims, "logsumexp");
        var o = Tensor.Empty(keep);
        OverReducedDims(x, reduced, (src, off, outer, red, inner) => Reduce.LogSumExp(src, off, o.Array, o.Offset, outer, red, inner));
        var result = keepDim ? o : ReshapeNoGrad(o, Drop(keep, reduced));
        // d lse / dx = exp(x − lse) = softmax over the reduced dims
        return Autograd.Record(result, "logsumexp", [x], g =>
        {
            var lse = Reshape(result, keep); // may be result itself (keepDim): not ours to dispose then
            using var shifted = Sub(x, lse);
            using var softmax = Exp(shifted);
            if (!ReferenceEquals(lse, result)) lse.Dispose();
            return [ReductionGradTimes(g, keep, x.Shape, softmax)];
        }, x, result);
    }

    public static Tensor LogSumExp(Tensor x, int dim, bool keepDim = false) => LogSumExp(x, [dim], keepDim);

    // ------------------------------------------------------------ L2 norm

    /// <summary>√Σx² over dims. The gradient is x/‖x‖, defined as 0 where the norm is 0.</summary>
    public static Tensor Norm(Tensor x, int[] dims, bool keepDim = false)
    {
        var (keep, reduced) = ReducedShapes(x.Shape, dims, "norm");
        var o = Tensor.Empty(keep);
        var squares = BufferPool.Rent(x.Length);
        Unary.Map(x.Array, x.Offset, squares, 0, x.Length, static (a, y) => TensorPrimitives.Multiply(a, a, y));
        Reduce.Sum(squares, 0, x.Shape, reduced, o.Array, o.Offset);
        BufferPool.Return(squares);
        TensorPrimitives.Sqrt(o.Span, o.Span);
        var result = keepDim ? o : ReshapeNoGrad(o, Drop(keep, reduced));
        return Autograd.Record(result, "norm", [x], g =>
        {
            var norm = Reshape(result, keep); // may be result itself (keepDim): not ours to dispose then
            // Adding 1 where the norm is 0 (a constant) makes x/‖x‖ = 0/1 there, and changes nothing elsewhere.
            using var zeroFix = UnaryMap(norm, static (a, y) => { for (int i = 0; i < a.Length; i++) y[i] = a[i] == 0 ? 1f : 0f; });
            using var safe = Add(norm, zeroFix);
            using var unit = Div(x, safe);
            if (!ReferenceEquals(norm, result)) norm.Dispose();
            return [ReductionGradTimes(g, keep, x.Shape, unit)];
        }, x, result);
    }

    public static Tensor Norm(Tensor x) => Norm(x, []);
    public static Tensor Norm(Tensor x, int dim, bool keepDim = false) => Norm(x, [dim], keepDim);

    // ------------------------------------------------------------ helpers

    /// <summary>
    /// The gradient of a reduction: <paramref name="g"/> (the reduced shape) broadcast back over the input
    /// shape through <paramref name="keep"/>, times <paramref name="factor"/> (input shape). Differentiable.
    /// </summary>
    static Tensor ReductionGradTimes(Tensor g, int[] keep, int[] inShape, Tensor factor)
    {
        var gk = Reshape(g, keep);
        var r = Mul(gk, factor); // broadcasting does the expansion
        if (!ReferenceEquals(gk, g)) gk.Dispose();
        return Shapes.Equal(r.Shape, inShape) ? r : throw new InvalidOperationException($"reduction backward: gradient {Shapes.Str(r.Shape)} for input {Shapes.Str(inShape)}");
    }

    /// <summary>
    /// Runs a one-pass [outer, reduce, inner] kernel for the reduced dims: directly on x when the reduced
    /// dims are adjacent (ignoring size-1 dims), else on a copy with the reduced dims moved last.
    /// The kernel's output is in the order of the kept dims either way.
    /// </summary>
    static void OverReducedDims(Tensor x, bool[] reduced, Action<float[], int, int, int, int> kernel)
    {
        if (ReductionRun(x.Shape, reduced) is { } run)
        {
            var (outer, red, inner) = run;
            kernel(x.Array, x.Offset, outer, red, inner);
            return;
        }
        var (perm, _, rows, cols) = ReducedLast(x.Shape, reduced);
        var moved = BufferPool.Rent(x.Length);
        PermuteKernel.Apply(x.Array, x.Offset, x.Shape, perm, moved, 0);
        kernel(moved, 0, rows, cols, 1);
        BufferPool.Return(moved);
    }

    /// <summary>[outer, reduce, inner] when the reduced dims of size &gt; 1 are adjacent, else null.</summary>
    static (int Outer, int Reduce, int Inner)? ReductionRun(int[] shape, bool[] reduced)
    {
        int first = -1, last = -1;
        for (int i = 0; i < shape.Length; i++)
            if (reduced[i] && shape[i] != 1) { if (first < 0) first = i; last = i; }
        if (first < 0) return (Shapes.Numel(shape), 1, 1);
        for (int i = first; i <= last; i++)
            if (!reduced[i] && shape[i] != 1) return null;
        int outer = 1, red = 1, inner = 1;
        for (int i = 0; i < first; i++) outer *= shape[i];
        for (int i = first; i <= last; i++) red *= shape[i];
        for (int i = last + 1; i < shape.Length; i++) inner *= shape[i];
        return (outer, red, inner);
    }

    /// <summary>The permutation putting the reduced dims last (each group in its own order), its inverse, and the sizes.</summary>
    static (int[] Perm, int[] Inverse, int Rows, int Cols) ReducedLast(int[] shape, bool[] reduced)
    {
        var perm = Enumerable.Range(0, shape.Length).Where(d => !reduced[d])
            .Concat(Enumerable.Range(0, shape.Length).Where(d => reduced[d])).ToArray();
        var inverse = new int[perm.Length];
        for (int i = 0; i < perm.Length; i++) inverse[perm[i]] = i;
        int rows = 1, cols = 1;
        for (int d = 0; d < shape.Length; d++) { if (reduced[d]) cols *= shape[d]; else rows *= shape[d]; }
        return (perm, inverse, rows, cols);
    }
}
