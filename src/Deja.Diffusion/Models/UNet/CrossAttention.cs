using Deja.Tensors;
using Deja.Tensors.Kernels;
using Deja.Tensors.Nn;

namespace Deja.Diffusion.Models.UNet;

/// <summary>
/// diffusers' Attention as used by SD's BasicTransformerBlock: to_q/to_k/to_v without bias,
/// to_out.0 with bias (to_out.1 is a parameterless dropout, p = 0), softmax scale head_dim^-½.
/// Self-attention when no context is given, else cross-attention with keys and values from the context.
/// upcast_attention (SD2) asks for float32 scores under half precision; everything here is float32
/// already, so it changes nothing.
/// </summary>
public sealed class CrossAttention : Module
{
    readonly Linear toQ, toK, toV;
    readonly ModuleList<Linear> toOut;

    public CrossAttention(string path, int queryDim, int contextDim, int heads, int headDim, Generator init)
    {
        Path = path;
        Heads = heads;
        HeadDim = headDim;
        int inner = heads * headDim;
        toQ = Register("to_q", new Linear(queryDim, inner, bias: false, init));
        toK = Register("to_k", new Linear(contextDim, inner, bias: false, init));
        toV = Register("to_v", new Linear(contextDim, inner, bias: false, init));
        toOut = Register("to_out", new ModuleList<Linear>([new Linear(inner, queryDim, bias: true, init)]));
    }

    public string Path { get; }
    public int Heads { get; }
    public int HeadDim { get; }

    /// <summary>The attention output after to_out, [B, L, queryDim] (without the block's residual).</summary>
    internal Tensor Forward(Tensor x, Tensor? context, UNetPass pass)
    {
        using var scope = TensorScope.Enter();
        var merged = Attend(x, context, pass);
        Tensor y;
        using (pass.Time(UNetOpKind.Linear)) y = Ops.Linear(merged, toOut[0].Weight, toOut[0].Bias);
        return scope.Keep(y);
    }

    /// <summary>residual + attention(x) (inference: accumulated into <paramref name="residual"/>, owned by the caller).</summary>
    internal Tensor ForwardPlus(Tensor x, Tensor? context, Tensor residual, UNetPass pass)
    {
        using var scope = TensorScope.Enter();
        var merged = Attend(x, context, pass);
        return scope.Keep(UNetOps.LinearPlus(merged, toOut[0].Weight, toOut[0].Bias, residual, pass));
    }

    /// <summary>
    /// softmax(q·kᵀ/√d)·v with the heads merged back: [B, L, heads·headDim]. With a hook, a
    /// cross-attention layer also reports its probabilities (<see cref="EmitProbabilities"/>).
    /// </summary>
    Tensor Attend(Tensor x, Tensor? context, UNetPass pass)
    {
        var (q, k, v) = pass.Inference ? ProjectFused(x, context, pass) : Project(x, context ?? x, pass);
        if (pass.Hook is not null && context is not null) EmitProbabilities(q, k, pass);
        Tensor o;
        using (pass.Time(UNetOpKind.Attention)) o = Ops.ScaledDotProductAttention(q, k, v);
        using (pass.Time(UNetOpKind.Layout)) return UNetOps.MergeHeads(o);
    }

    /// <summary>The path suffix under which a cross-attention layer reports its probabilities.</summary>
    public const string ProbabilitiesSuffix = ".attention_probs";

    /// <summary>
    /// Reports "{<see cref="Path"/>}.attention_probs": the post-softmax probabilities softmax(q·kᵀ/√d)
    /// averaged over the heads, [B, Lq, Lk] (each row sums to 1 over the Lk context tokens). The fused
    /// attention never stores them, so they are computed again here, only when a hook asks for
    /// activations; the tensor is freed after the call.
    /// </summary>
    void EmitProbabilities(Tensor q, Tensor k, UNetPass pass)
    {
        using var scores = Ops.MatMul(q, k, transB: true);
        using var scaled = Ops.MulScalar(scores, 1f / MathF.Sqrt(HeadDim));
        using var probs = Ops.Softmax(scaled, 3);
        using var mean = Ops.Mean(probs, 1);
        pass.Emit(Path + ProbabilitiesSuffix, mean);
    }

    (Tensor Q, Tensor K, Tensor V) Project(Tensor x, Tensor context, UNetPass pass)
    {
        Tensor q, k, v;
        using (pass.Time(UNetOpKind.Linear))
        {
            q = toQ.Forward(x);
            k = toK.Forward(context);
            v = toV.Forward(context);
        }
        using (pass.Time(UNetOpKind.Layout))
            return (UNetOps.SplitHeads(q, Heads), UNetOps.SplitHeads(k, Heads), UNetOps.SplitHeads(v, Heads));
    }

    /// <summary>
    /// Inference: the projections that read the same input write side by side into one [rows, n·inner]
    /// buffer (strided GEMM output, no weight concatenation), and one permute splits it into heads.
    /// </summary>
    (Tensor Q, Tensor K, Tensor V) ProjectFused(Tensor x, Tensor? context, UNetPass pass)
    {
        if (context is null)
        {
            var qkv = ProjectSideBySide(x, [toQ, toK, toV], pass);
            return (Ops.Select(qkv, 0), Ops.Select(qkv, 1), Ops.Select(qkv, 2));
        }
        var q = ProjectSideBySide(x, [toQ], pass);
        var kv = ProjectSideBySide(context, [toK, toV], pass);
        return (Ops.Select(q, 0), Ops.Select(kv, 0), Ops.Select(kv, 1));
    }

    /// <summary>input [B, L, C] through n bias-free projections → [n, B, heads, L, headDim].</summary>
    Tensor ProjectSideBySide(Tensor input, Linear[] projections, UNetPass pass)
    {
        int b = input.Shape[0], l = input.Shape[1], c = input.Shape[2], n = projections.Length, inner = Heads * HeadDim;
        if (c != projections[0].Weight.Shape[1])
            throw new ArgumentException($"{Path}: input {Shapes.Str(input.Shape)} does not end in the {projections[0].Weight.Shape[1]} features the projections expect");
        using var side = Tensor.Empty(b, l, n, Heads, HeadDim);
        using (pass.Time(UNetOpKind.Linear))
        {
            var s = side.Span;
            for (int i = 0; i < n; i++)
                Gemm.Sgemm(false, true, b * l, inner, c, 1f, input.ReadOnlySpan, c, projections[i].Weight.ReadOnlySpan, c,
                    0f, s[(i * inner)..], n * inner);
        }
        using (pass.Time(UNetOpKind.Layout))
            return Ops.Permute(side, 2, 0, 3, 1, 4);
    }
}
