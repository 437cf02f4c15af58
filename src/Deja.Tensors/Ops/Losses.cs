namespace Deja.Tensors;

/// <summary>How a loss combines its elementwise terms.</summary>
public enum Reduction { None, Mean, Sum }

// Similarities and losses, composed from differentiable ops (so double backward works).
public static partial class Ops
{
    /// <summary>
    /// Cosine similarity along <paramref name="dim"/> (a and b broadcast together), with PyTorch's current
    /// convention (torch ≥ 1.13, aten cosine_similarity): Σ (a / max(‖a‖, eps)) · (b / max(‖b‖, eps)).
    /// Each norm is clamped on its own, so for ‖a‖, ‖b‖ ≥ eps this is exactly a·b / (‖a‖‖b‖) and always within
    /// [−1, 1]. (Older PyTorch divided by √max(‖a‖²‖b‖², eps²) instead; the two differ only when a norm is
    /// below eps.) As in PyTorch the clamp is not differentiated: the gradient flows through the unclamped
    /// norm, whose own gradient is 0 at 0.
    /// </summary>
    public static Tensor CosineSimilarity(Tensor a, Tensor b, int dim = 1, float eps = 1e-8f)
    {
        var shape = Shapes.Equal(a.Shape, b.Shape) ? a.Shape : Shapes.Broadcast(a.Shape, b.Shape, "cosine_similarity");
        int ax = Shapes.Axis(dim, shape.Length, "cosine_similarity");
        var ea = BroadcastTo(a, shape);
        var eb = BroadcastTo(b, shape);
        using var ua = UnitAlong(ea, ax, eps);
        using var ub = UnitAlong(eb, ax, eps);
        using var prod = Mul(ua, ub);
        if (!ReferenceEquals(ea, a)) ea.Dispose();
        if (!ReferenceEquals(eb, b)) eb.Dispose();
        return Sum(prod, [ax]);
    }

    /// <summary>x / max(‖x‖, eps) along dim, the clamp applied as a constant shift of the norm.</summary>
    static Tensor UnitAlong(Tensor x, int dim, float eps)
    {
        using var norm = Norm(x, [dim], keepDim: true);
        using var lift = UnaryMap(norm, (n, y) => { for (int i = 0; i < n.Length; i++) y[i] = n[i] < eps ? eps - n[i] : 0f; });
        using var clamped = Add(norm, lift);
        return Div(x, clamped);
    }

    /// <summary>Mean (or sum, or elementwise) squared error; pred and target must have the same shape.</summary>
    public static Tensor MseLoss(Tensor pred, Tensor target, Reduction reduction = Reduction.Mean)
    {
        if (!Shapes.Equal(pred.Shape, target.Shape))
            throw new ArgumentException($"mse_loss: prediction {Shapes.Str(pred.Shape)} and target {Shapes.Str(target.Shape)} differ in shape");
        var diff = Sub(pred, target);
        var sq = Square(diff);
        diff.Dispose();
        if (reduction == Reduction.None) return sq;
        var r = reduction == Reduction.Mean ? Mean(sq) : Sum(sq);
        sq.Dispose();
        return r;
    }
}
