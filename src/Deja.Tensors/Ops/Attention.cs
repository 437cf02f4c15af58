using Deja.Tensors.Kernels;

namespace Deja.Tensors;

public static partial class Ops
{
    const string SdpaName = "scaled_dot_product_attention";

    /// <summary>
    /// softmax(q·kᵀ·scale [+ causal mask])·v for q [B,H,Lq,D], k [B,H,Lk,D], v [B,H,Lk,Dv] → [B,H,Lq,Dv],
    /// like PyTorch's F.scaled_dot_product_attention. <paramref name="scale"/> defaults to 1/√D.
    /// <paramref name="causal"/> masks key j for query i when j &gt; i (requires Lq == Lk).
    /// Memory-efficient: computed a block of query rows at a time, the Lq×Lk score matrix is never
    /// stored, in the forward or the backward (which recomputes it from the saved row logsumexp).
    /// Double backward is not supported.
    /// </summary>
    public static unsafe Tensor ScaledDotProductAttention(Tensor q, Tensor k, Tensor v, bool causal = false, float? scale = null)
    {
        var shape = CheckAttention(q, k, v, causal, scale);
        var o = Tensor.Empty(q.Shape[0], q.Shape[1], shape.Lq, shape.Dv);
        var lse = Tensor.Empty(q.Shape[0], q.Shape[1], shape.Lq);
        fixed (float* pq = q.Array) fixed (float* pk = k.Array) fixed (float* pv = v.Array)
        fixed (float* po = o.Array) fixed (float* pl = lse.Array)
            AttentionKernels.Forward(shape, pq + q.Offset, pk + k.Offset, pv + v.Offset, po + o.Offset, pl + lse.Offset);
        var result = Autograd.Record(o, SdpaName, [q, k, v], g =>
        {
            if (GradMode.IsEnabled)
                throw new NotSupportedException($"double backward through {SdpaName} is not supported (its backward uses fused kernels, not differentiable ops)");
            var dq = q.RequiresGrad ? Tensor.Empty(q.Shape) : null;
            var dk = k.RequiresGrad ? Tensor.Empty(k.Shape) : null;
            var dv = v.RequiresGrad ? Tensor.Empty(v.Shape) : null;
            fixed (float* pq = q.Array) fixed (float* pk = k.Array) fixed (float* pv = v.Array)
            fixed (float* po = o.Array) fixed (float* pl = lse.Array) fixed (float* pg = g.Array)
            fixed (float* pdq = dq?.Array) fixed (float* pdk = dk?.Array) fixed (float* pdv = dv?.Array)
                AttentionKernels.Backward(shape, pq + q.Offset, pk + k.Offset, pv + v.Offset, po + o.Offset, pl + lse.Offset,
                    pg + g.Offset, dq is null ? null : pdq + dq.Offset, dk is null ? null : pdk + dk.Offset, dv is null ? null : pdv + dv.Offset);
            return [dq, dk, dv];
        }, q, k, v, o, lse);
        lse.Dispose(); // the backward node holds its own reference when one was recorded
        return result;
    }

    static AttentionShape CheckAttention(Tensor q, Tensor k, Tensor v, bool causal, float? scale)
    {
        string Shapes3() => $"q {Shapes.Str(q.Shape)}, k {Shapes.Str(k.Shape)}, v {Shapes.Str(v.Shape)}";
        if (q.Rank != 4 || k.Rank != 4 || v.Rank != 4)
            throw new ArgumentException($"{SdpaName}: q, k and v must be [B, H, L, D], got {Shapes3()}");
        if (q.Shape[0] != k.Shape[0] || q.Shape[0] != v.Shape[0] || q.Shape[1] != k.Shape[1] || q.Shape[1] != v.Shape[1])
            throw new ArgumentException($"{SdpaName}: batch and head dims differ: {Shapes3()}");
        if (q.Shape[3] != k.Shape[3])
            throw new ArgumentException($"{SdpaName}: q and k head dims differ: {Shapes3()}");
        if (k.Shape[2] != v.Shape[2])
            throw new ArgumentException($"{SdpaName}: k and v have different numbers of keys: {Shapes3()}");
        int lq = q.Shape[2], lk = k.Shape[2], d = q.Shape[3];
        if (lk == 0 && (long)q.Shape[0] * q.Shape[1] * lq > 0)
            throw new ArgumentException($"{SdpaName}: softmax over zero keys is undefined: {Shapes3()}");
        if (causal && lq != lk)
            throw new ArgumentException($"{SdpaName}: causal masking needs as many queries as keys (Lq == Lk): {Shapes3()}");
        float s = scale ?? 1f / MathF.Sqrt(Math.Max(d, 1));
        if (!float.IsFinite(s))
            throw new ArgumentException($"{SdpaName}: scale must be finite, got {s}");
        return new AttentionShape(q.Shape[0] * q.Shape[1], lq, lk, d, v.Shape[3], causal, s);
    }
}
