using System.Numerics.Tensors;
using Deja.Tensors.Kernels;

namespace Deja.Tensors;

/// <summary>
/// The differentiable ops. Each op computes its forward with a kernel and records a backward written
/// with these same ops, so gradients can be differentiated again where the backward allows it.
/// Split over several files by family (Ops/*.cs).
/// </summary>
public static partial class Ops
{
    // ------------------------------------------------------------ broadcasting binary arithmetic

    static Tensor BinaryForward(BinaryOp op, Tensor a, Tensor b, string name)
    {
        var shape = Shapes.Equal(a.Shape, b.Shape) ? a.Shape : Shapes.Broadcast(a.Shape, b.Shape, name);
        var o = Tensor.Empty(shape);
        Elementwise.Binary(op, a.Array, a.Offset, a.Shape, b.Array, b.Offset, b.Shape, o.Array, o.Offset, shape);
        return o;
    }

    public static Tensor Add(Tensor a, Tensor b)
    {
        var o = BinaryForward(BinaryOp.Add, a, b, "add");
        return Autograd.Record(o, "add", [a, b], g => [SumTo(g, a.Shape), SumTo(g, b.Shape)]);
    }

    public static Tensor Sub(Tensor a, Tensor b)
    {
        var o = BinaryForward(BinaryOp.Sub, a, b, "sub");
        return Autograd.Record(o, "sub", [a, b], g => [SumTo(g, a.Shape), b.RequiresGrad ? SumTo(Neg(g), b.Shape) : null]);
    }

    public static Tensor Mul(Tensor a, Tensor b)
    {
        var o = BinaryForward(BinaryOp.Mul, a, b, "mul");
        bool needA = a.RequiresGrad, needB = b.RequiresGrad;
        return Autograd.Record(o, "mul", [a, b],
            g => [needA ? SumTo(Mul(g, b), a.Shape) : null, needB ? SumTo(Mul(g, a), b.Shape) : null], SavedFor(needA, b, needB, a));
    }

    public static Tensor Div(Tensor a, Tensor b)
    {
        var o = BinaryForward(BinaryOp.Div, a, b, "div");
        return Autograd.Record(o, "div", [a, b], g =>
        [
            a.RequiresGrad ? SumTo(Div(g, b), a.Shape) : null,
            // d(a/b)/db = -a/b² = -o/b
            b.RequiresGrad ? SumTo(Neg(Div(Mul(g, a), Mul(b, b))), b.Shape) : null,
        ], a, b);
    }

    /// <summary>Elementwise maximum; the gradient goes to a where a ≥ b, else to b.</summary>
    public static Tensor Maximum(Tensor a, Tensor b)
    {
        var o = BinaryForward(BinaryOp.Max, a, b, "maximum");
        return Autograd.Record(o, "maximum", [a, b], g =>
        {
            using var mask = GreaterEqualMask(a, b);
            using var inv = RSub(1f, mask);
            return [a.RequiresGrad ? SumTo(Mul(g, mask), a.Shape) : null, b.RequiresGrad ? SumTo(Mul(g, inv), b.Shape) : null];
        }, a, b);
    }

    /// <summary>1 where a ≥ b else 0 (broadcast), not differentiable.</summary>
    public static Tensor GreaterEqualMask(Tensor a, Tensor b)
    {
        var shape = Shapes.Broadcast(a.Shape, b.Shape, "greater_equal");
        var o = Tensor.Empty(shape);
        using (GradMode.NoGrad())
        {
            var ea = BroadcastTo(a, shape); var eb = BroadcastTo(b, shape);
            var x = ea.ReadOnlySpan; var y = eb.ReadOnlySpan; var d = o.Span;
            for (int i = 0; i < d.Length; i++) d[i] = x[i] >= y[i] ? 1f : 0f;
            if (!ReferenceEquals(ea, a)) ea.Dispose();
            if (!ReferenceEquals(eb, b)) eb.Dispose();
        }
        return o;
    }

    // ------------------------------------------------------------ scalar forms

    public static Tensor Neg(Tensor a)
    {
        var o = Tensor.Empty(a.Shape);
        TensorPrimitives.Negate(a.ReadOnlySpan, o.Span);
        return Autograd.Record(o, "neg", [a], g => [Neg(g)]);
    }

    public static Tensor AddScalar(Tensor a, float s)
    {
        var o = Tensor.Empty(a.Shape);
        TensorPrimitives.Add(a.ReadOnlySpan, s, o.Span);
        return Autograd.Record(o, "add_scalar", [a], g => [g]);
    }

    public static Tensor MulScalar(Tensor a, float s)
    {
        var o = Tensor.Empty(a.Shape);
        TensorPrimitives.Multiply(a.ReadOnlySpan, s, o.Span);
        return Autograd.Record(o, "mul_scalar", [a], g => [MulScalar(g, s)]);
    }

    /// <summary>s − a.</summary>
    public static Tensor RSub(float s, Tensor a)
    {
        var o = Tensor.Empty(a.Shape);
        TensorPrimitives.Subtract(s, a.ReadOnlySpan, o.Span);
        return Autograd.Record(o, "rsub", [a], g => [Neg(g)]);
    }

    /// <summary>s / a.</summary>
    public static Tensor RDiv(float s, Tensor a)
    {
        var o = Tensor.Empty(a.Shape);
        TensorPrimitives.Divide(s, a.ReadOnlySpan, o.Span);
        // d(s/a)/da = -s/a²
        return Autograd.Record(o, "rdiv", [a], g => [Neg(Div(MulScalar(g, s), Mul(a, a)))], a);
    }

    // ------------------------------------------------------------ broadcasting helpers

    /// <summary>
    /// Sums <paramref name="g"/> down to <paramref name="shape"/>, undoing a broadcast (the backward of
    /// every broadcasting op). Returns <paramref name="g"/> itself when the shapes already agree.
    /// </summary>
    public static Tensor SumTo(Tensor g, int[] shape)
    {
        if (Shapes.Equal(g.Shape, shape)) return g;
        int pad = g.Rank - shape.Length;
        if (pad < 0) throw new ArgumentException($"sum_to: cannot reduce {Shapes.Str(g.Shape)} to the larger rank of {Shapes.Str(shape)}");
        var dims = new List<int>();
        for (int i = 0; i < g.Rank; i++)
        {
            if (i < pad) { dims.Add(i); continue; }
            int want = shape[i - pad];
            if (want == g.Shape[i]) continue;
            if (want != 1) throw new ArgumentException($"sum_to: cannot reduce {Shapes.Str(g.Shape)} to {Shapes.Str(shape)}");
            dims.Add(i);
        }
        var s = Sum(g, dims.ToArray(), keepDim: true);
        var r = Reshape(s, shape);
        if (!ReferenceEquals(r, s)) s.Dispose();
        return r;
    }

    /// <summary>Materializes <paramref name="a"/> broadcast to <paramref name="shape"/>.</summary>
    public static Tensor BroadcastTo(Tensor a, int[] shape)
    {
        if (Shapes.Equal(a.Shape, shape)) return a;
        var check = Shapes.Broadcast(a.Shape, shape, "broadcast_to");
        if (!Shapes.Equal(check, shape)) throw new ArgumentException($"broadcast_to: {Shapes.Str(a.Shape)} cannot be broadcast to {Shapes.Str(shape)}");
        var o = Tensor.Empty(shape);
        // 0 + a with the broadcasting kernel; the zero tensor is a one-element scalar.
        var zero = new float[1];
        Elementwise.Binary(BinaryOp.Add, a.Array, a.Offset, a.Shape, zero, 0, [1], o.Array, o.Offset, shape);
        var target = (int[])shape.Clone();
        return Autograd.Record(o, "broadcast_to", [a], g => [SumTo(g, a.Shape)]);
    }

    // ------------------------------------------------------------ sums (the rest of the reductions live in Reductions.cs)

    /// <summary>Sum over <paramref name="dims"/> (all when empty).</summary>
    public static Tensor Sum(Tensor a, int[] dims, bool keepDim = false)
    {
        var (keep, reduced) = ReducedShapes(a.Shape, dims, "sum");
        var o = Tensor.Empty(keep);
        SumKernel(a, o, reduced);
        var result = keepDim ? o : ReshapeNoGrad(o, Drop(keep, reduced));
        var inShape = a.Shape;
        return Autograd.Record(result, "sum", [a], g =>
        {
            var gk = Reshape(g, keep);
            var e = BroadcastTo(gk, inShape);
            if (!ReferenceEquals(gk, g) && !ReferenceEquals(gk, e)) gk.Dispose();
            return [e];
        });
    }

    public static Tensor Sum(Tensor a) => Sum(a, []);
    public static Tensor Sum(Tensor a, int dim, bool keepDim = false) => Sum(a, [dim], keepDim);

    /// <summary>Output shape with reduced dims set to 1, and the mask of reduced dims.</summary>
    internal static (int[] keep, bool[] reduced) ReducedShapes(int[] shape, int[] dims, string op)
    {
        var reduced = new bool[shape.Length];
        if (dims.Length == 0) Array.Fill(reduced, true);
        foreach (var d in dims)
        {
            int ax = Shapes.Axis(d, shape.Length, op);
            if (reduced[ax] && dims.Length > 0 && dims.Count(x => Shapes.Axis(x, shape.Length, op) == ax) > 1)
                throw new ArgumentException($"{op}: axis {d} given twice");
            reduced[ax] = true;
        }
        var keep = new int[shape.Length];
        for (int i = 0; i < shape.Length; i++) keep[i] = reduced[i] ? 1 : shape[i];
        return (keep, reduced);
    }

    internal static int[] Drop(int[] keep, bool[] reduced)
    {
        var l = new List<int>();
        for (int i = 0; i < keep.Length; i++) if (!reduced[i]) l.Add(keep[i]);
        return l.ToArray();
    }

    /// <summary>Sums runs of reduced dims one run at a time, as [outer, reduce, inner] blocks (see <see cref="Reduce.Sum"/>).</summary>
    static void SumKernel(Tensor a, Tensor o, bool[] reduced) => Reduce.Sum(a.Array, a.Offset, a.Shape, reduced, o.Array, o.Offset);

    // ------------------------------------------------------------ views

    /// <summary>Same data, new shape (one -1 is inferred). A view: no copy.</summary>
    public static Tensor Reshape(Tensor a, params int[] shape)
    {
        var target = Shapes.Infer(shape, a.Length, a.Shape);
        if (Shapes.Equal(target, a.Shape)) return a;
        var o = a.Alias(target);
        var from = a.Shape;
        return Autograd.Record(o, "reshape", [a], g => [Reshape(g, from)]);
    }

    static Tensor ReshapeNoGrad(Tensor a, int[] shape)
    {
        if (Shapes.Equal(shape, a.Shape)) return a;
        var o = a.Alias(shape);
        a.Dispose();
        return o;
    }
}
