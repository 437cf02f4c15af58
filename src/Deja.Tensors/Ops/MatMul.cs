using Deja.Tensors.Kernels;

namespace Deja.Tensors;

public static partial class Ops
{
    /// <summary>
    /// Matrix product op(a)·op(b) over the last two dims, where op transposes when asked (without a copy).
    /// a: [..., M, K] (or [..., K, M] with transA); b: [..., K, N] (or [..., N, K] with transB).
    /// Leading (batch) dims must match, or one operand is a plain matrix shared by every batch entry.
    /// </summary>
    public static unsafe Tensor MatMul(Tensor a, Tensor b, bool transA = false, bool transB = false)
    {
        if (a.Rank < 2 || b.Rank < 2)
            throw new ArgumentException($"matmul: operands need at least 2 dims, got {Shapes.Str(a.Shape)} and {Shapes.Str(b.Shape)}");
        int m = transA ? a.Shape[^1] : a.Shape[^2], k = transA ? a.Shape[^2] : a.Shape[^1];
        int kb = transB ? b.Shape[^1] : b.Shape[^2], n = transB ? b.Shape[^2] : b.Shape[^1];
        if (k != kb)
            throw new ArgumentException($"matmul: inner dimensions differ: {Shapes.Str(a.Shape)}{(transA ? "ᵀ" : "")} · {Shapes.Str(b.Shape)}{(transB ? "ᵀ" : "")} ({k} vs {kb})");
        bool sharedA = a.Rank == 2 && b.Rank > 2, sharedB = b.Rank == 2 && a.Rank > 2;
        var batchShape = (sharedA ? b : a).Shape[..^2];
        if (!sharedA && !sharedB && !Shapes.Equal(a.Shape[..^2], b.Shape[..^2]))
            throw new ArgumentException($"matmul: batch dims differ: {Shapes.Str(a.Shape)} and {Shapes.Str(b.Shape)}");
        int batch = Shapes.Numel(batchShape);
        var o = Tensor.Empty([.. batchShape, m, n]);
        int lda = a.Shape[^1], ldb = b.Shape[^1];
        long strideA = sharedA ? 0 : (long)m * k, strideB = sharedB ? 0 : (long)k * n;
        fixed (float* pa0 = a.Array) fixed (float* pb0 = b.Array) fixed (float* po0 = o.Array)
        {
            float* pa = pa0 + a.Offset, pb = pb0 + b.Offset, po = po0 + o.Offset;
            if (sharedB && !transA)
                Gemm.Sgemm(false, transB, batch * m, n, k, 1f, pa, lda, pb, ldb, 0f, po, n); // fold the batch into rows
            else
                for (int i = 0; i < batch; i++)
                    Gemm.Sgemm(transA, transB, m, n, k, 1f, pa + i * strideA, lda, pb + i * strideB, ldb, 0f, po + (long)i * m * n, n);
        }
        // Each side's gradient reads only the other operand: save just what the backward will read
        // (a frozen weight's partner — an activation — need not outlive the forward).
        bool needA = a.RequiresGrad, needB = b.RequiresGrad;
        return Autograd.Record(o, "matmul", [a, b], g =>
        {
            Tensor? da = null, db = null;
            if (needA)
            {
                da = (transA, transB) switch
                {
                    (false, false) => MatMul(g, b, false, true),
                    (false, true) => MatMul(g, b, false, false),
                    (true, false) => MatMul(b, g, false, true),
                    _ => MatMul(b, g, true, true),
                };
                if (sharedA) da = SumTo(da, a.Shape); // a was shared by every batch entry
            }
            if (needB)
            {
                db = (transA, transB) switch
                {
                    (false, false) => MatMul(a, g, true, false),
                    (false, true) => MatMul(g, a, true, false),
                    (true, false) => MatMul(a, g, false, false),
                    _ => MatMul(g, a, true, true),
                };
                if (sharedB) db = SumTo(db, b.Shape);
            }
            return [da, db];
        }, SavedFor(needA, b, needB, a));
    }

    /// <summary>
    /// y = x·Wᵀ + bias over the last dim (PyTorch's nn.Linear layout: W is [out, in]).
    /// The bias is written first and the product accumulated onto it, saving a pass.
    /// </summary>
    public static unsafe Tensor Linear(Tensor x, Tensor weight, Tensor? bias = null)
    {
        if (weight.Rank != 2) throw new ArgumentException($"linear: weight must be [out, in], got {Shapes.Str(weight.Shape)}");
        int outF = weight.Shape[0], inF = weight.Shape[1];
        if (x.Rank < 1 || x.Shape[^1] != inF)
            throw new ArgumentException($"linear: input {Shapes.Str(x.Shape)} does not end in {inF} features (weight {Shapes.Str(weight.Shape)})");
        if (bias is not null && (bias.Rank != 1 || bias.Shape[0] != outF))
            throw new ArgumentException($"linear: bias {Shapes.Str(bias.Shape)} does not match {outF} output features");
        int rows = x.Length / Math.Max(inF, 1);
        if (inF == 0) rows = Shapes.Numel(x.Shape[..^1]);
        var outShape = x.Shape[..^1].Concat(new[] { outF }).ToArray();
        var o = Tensor.Empty(outShape);
        var os = o.Span;
        if (bias is not null) { var bs = bias.ReadOnlySpan; for (int r = 0; r < rows; r++) bs.CopyTo(os.Slice(r * outF, outF)); }
        fixed (float* px = x.Array) fixed (float* pw = weight.Array) fixed (float* po = o.Array)
            Gemm.Sgemm(false, true, rows, outF, inF, 1f, px + x.Offset, inF, pw + weight.Offset, inF, bias is null ? 0f : 1f, po + o.Offset, outF);
        var inputs = bias is null ? new[] { x, weight } : new[] { x, weight, bias };
        // dx reads the weight, dW reads x: with frozen weights (explanation, localization, prompt
        // mitigation) the input is not kept, which is most of a VJP's activation memory.
        bool needX = x.RequiresGrad, needW = weight.RequiresGrad;
        var xShape = x.Shape;
        return Autograd.Record(o, "linear", inputs, g =>
        {
            var g2 = Reshape(g, rows, outF);
            var dx = needX ? Reshape(MatMul(g2, weight), xShape) : null;
            Tensor? dw = null;
            if (needW)
            {
                var x2 = Reshape(x, rows, inF);
                dw = MatMul(g2, x2, transA: true);
            }
            var res = new Tensor?[inputs.Length];
            res[0] = dx; res[1] = dw;
            if (bias is not null && bias.RequiresGrad) res[2] = Sum(g2, 0);
            return res;
        }, SavedFor(needX, weight, needW, x));
    }

    /// <summary>
    /// The tensors a bilinear op's backward reads: <paramref name="readForFirst"/> when the first
    /// operand needs a gradient, <paramref name="readForSecond"/> when the second does.
    /// </summary>
    internal static Tensor[] SavedFor(bool first, Tensor readForFirst, bool second, Tensor readForSecond) => (first, second) switch
    {
        (true, true) => [readForFirst, readForSecond],
        (true, false) => [readForFirst],
        (false, true) => [readForSecond],
        _ => [],
    };
}
