using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Deja.Tensors;
using Deja.Tensors.Kernels;

namespace Deja.Diffusion.Models.UNet;

/// <summary>
/// The UNet's compound steps, each with a differentiable form built from engine ops (used whenever
/// autograd records) and a fused inference form (under NoGrad) that writes results in place and
/// skips passes over memory. Both forms compute the same function in float32; they differ in the
/// order of sums, and the inference GEGLU evaluates erf in float (<see cref="GegluKernel"/>).
/// </summary>
internal static class UNetOps
{
    /// <summary>a + b (same shape). Inference: written into <paramref name="a"/>, which must be a tensor the caller owns.</summary>
    public static Tensor AddOwned(Tensor a, Tensor b, UNetPass pass)
    {
        using var _ = pass.Time(UNetOpKind.Elementwise);
        if (!pass.Inference) return Ops.Add(a, b);
        if (!Shapes.Equal(a.Shape, b.Shape))
            throw new ArgumentException($"add: shapes {Shapes.Str(a.Shape)} and {Shapes.Str(b.Shape)} differ");
        ParallelAdd(a.Span, b.ReadOnlySpan);
        return a;
    }

    /// <summary>x [B,C,H,W] + t [B,C] broadcast over the pixels. Inference: in place in <paramref name="x"/> (owned by the caller).</summary>
    public static unsafe Tensor AddPerChannel(Tensor x, Tensor t, UNetPass pass)
    {
        using var _ = pass.Time(UNetOpKind.Elementwise);
        int b = x.Shape[0], c = x.Shape[1], plane = x.Shape[2] * x.Shape[3];
        if (!pass.Inference)
        {
            using var t4 = Ops.Reshape(t, b, c, 1, 1);
            return Ops.Add(x, t4);
        }
        var ts = t.ReadOnlySpan;
        fixed (float* px = x.Span)
        {
            nint X = (nint)px;
            var values = ts.ToArray();
            Threading.For(b * c, i =>
            {
                var row = new Span<float>((float*)X + (long)i * plane, plane);
                TensorPrimitives.Add(row, values[i], row);
            });
        }
        return x;
    }

    /// <summary>
    /// The view to dispose after use, or null when Reshape handed back <paramref name="source"/> itself (a
    /// linear projection's weight is already [O, C]): disposing that would release the model's weight.
    /// </summary>
    static Tensor? OwnedView(Tensor view, Tensor source) => ReferenceEquals(view, source) ? null : view;

    /// <summary>
    /// Pixels to tokens through a 1×1 projection: x [B,C,H,W], weight [O,C] (or [O,C,1,1]), bias [O] →
    /// [B, H·W, O]. It is proj_in of Transformer2DModel for both layouts: a 1×1 conv followed by the
    /// move to tokens (SD1) equals the move followed by a Linear (SD2). The GEMM reads the channel-major
    /// input transposed, so the permute is never materialized.
    /// </summary>
    public static Tensor PixelsToTokens(Tensor x, Tensor weight, Tensor? bias, UNetPass pass)
    {
        int b = x.Shape[0], c = x.Shape[1], hw = x.Shape[2] * x.Shape[3], o = weight.Shape[0];
        using var _ = pass.Time(UNetOpKind.Linear);
        if (!pass.Inference)
        {
            using var x3 = Ops.Reshape(x, b, c, hw);
            var w2 = Ops.Reshape(weight, o, c);
            using var ownW2 = OwnedView(w2, weight);
            var y = Ops.MatMul(x3, w2, transA: true, transB: true);
            if (bias is null) return y;
            using (y) return Ops.Add(y, bias);
        }
        var result = Tensor.Empty(b, hw, o);
        var rs = result.Span;
        if (bias is not null) FillRows(rs, bias.ReadOnlySpan, b * hw);
        var xs = x.ReadOnlySpan;
        for (int i = 0; i < b; i++)
            Gemm.Sgemm(true, true, hw, o, c, 1f, xs.Slice(i * c * hw, c * hw), hw, weight.ReadOnlySpan, c,
                bias is null ? 0f : 1f, rs.Slice(i * hw * o, hw * o), o);
        return result;
    }

    /// <summary>
    /// Tokens back to pixels through a 1×1 projection, plus a residual: tokens [B, H·W, C], weight [O,C]
    /// (or [O,C,1,1]), bias [O], residual [B,O,H,W] → residual + projection, [B,O,H,W] (proj_out and the
    /// Transformer2DModel's skip). The GEMM writes channel-major output directly.
    /// </summary>
    public static Tensor TokensToPixelsPlus(Tensor tokens, Tensor weight, Tensor? bias, Tensor residual, UNetPass pass)
    {
        int b = residual.Shape[0], o = residual.Shape[1], h = residual.Shape[2], w = residual.Shape[3], hw = h * w, c = tokens.Shape[2];
        using var _ = pass.Time(UNetOpKind.Linear);
        if (!pass.Inference)
        {
            var w2 = Ops.Reshape(weight, o, c);
            using var ownW2 = OwnedView(w2, weight);
            using var y = Ops.MatMul(w2, tokens, transB: true);
            using var y4 = Ops.Reshape(y, b, o, h, w);
            if (bias is null) return Ops.Add(y4, residual);
            using var b4 = Ops.Reshape(bias, o, 1, 1);
            using var yb = Ops.Add(y4, b4);
            return Ops.Add(yb, residual);
        }
        var result = Tensor.Empty(residual.Shape);
        var rs = result.Span;
        if (bias is null) residual.ReadOnlySpan.CopyTo(rs);
        else
        {
            // residual + bias in the one pass that copies the residual
            var bs = bias.ReadOnlySpan;
            var src = residual.ReadOnlySpan;
            for (int plane = 0; plane < b * o; plane++)
                TensorPrimitives.Add(src.Slice(plane * hw, hw), bs[plane % o], rs.Slice(plane * hw, hw));
        }
        var ts = tokens.ReadOnlySpan;
        for (int i = 0; i < b; i++)
            Gemm.Sgemm(false, true, o, hw, c, 1f, weight.ReadOnlySpan, c, ts.Slice(i * hw * c, hw * c), c, 1f, rs.Slice(i * o * hw, o * hw), hw);
        return result;
    }

    /// <summary>
    /// residual + x·Wᵀ + bias over the last dim (a Linear layer and the residual add after it).
    /// Inference: accumulated into <paramref name="residual"/> itself, which the caller owns.
    /// </summary>
    public static Tensor LinearPlus(Tensor x, Tensor weight, Tensor? bias, Tensor residual, UNetPass pass)
    {
        if (!pass.Inference)
        {
            Tensor y;
            using (pass.Time(UNetOpKind.Linear)) y = Ops.Linear(x, weight, bias);
            using (y)
            using (pass.Time(UNetOpKind.Elementwise))
                return Ops.Add(y, residual);
        }
        int outF = weight.Shape[0], inF = weight.Shape[1], rows = x.Length / inF;
        if (residual.Length != rows * outF)
            throw new ArgumentException($"linear: residual {Shapes.Str(residual.Shape)} does not fit output [{rows}, {outF}]");
        var rs = residual.Span;
        if (bias is not null)
            using (pass.Time(UNetOpKind.Elementwise))
                AddRows(rs, bias.ReadOnlySpan, rows);
        using (pass.Time(UNetOpKind.Linear))
            Gemm.Sgemm(false, true, rows, outF, inF, 1f, x.ReadOnlySpan, inF, weight.ReadOnlySpan, inF, 1f, rs, outF);
        return residual;
    }

    /// <summary>
    /// GEGLU's gate: p [..., 2F] split into value and gate halves → value · gelu(gate), [..., F]
    /// (exact erf GELU, as diffusers' GEGLU).
    /// </summary>
    public static Tensor GatedGelu(Tensor p, UNetPass pass)
    {
        using var _ = pass.Time(UNetOpKind.Elementwise);
        int f2 = p.Shape[^1], f = f2 / 2, rows = p.Length / f2;
        if (!pass.Inference) return Ops.GatedGelu(p);
        var result = Tensor.Empty([.. p.Shape[..^1], f]);
        GatedGeluRows(p.Span, result.Span, rows, f);
        return result;
    }

    /// <summary>
    /// rows × [value | gate] (2F wide) → rows × value·gelu(gate) (F wide), in parallel over rows.
    /// Each row's halves are read once; <see cref="GegluKernel"/> evaluates GELU in float.
    /// </summary>
    public static unsafe void GatedGeluRows(Span<float> projected, Span<float> output, int rows, int f)
    {
        fixed (float* pp = projected) fixed (float* po = output)
        {
            nint P = (nint)pp, O = (nint)po;
            // a few rows per task: enough tasks to balance, each a contiguous run
            int rowsPerTask = Math.Max(1, 8192 / Math.Max(f, 1));
            Threading.Chunks(rows, rowsPerTask, (r0, r1) =>
            {
                for (int r = r0; r < r1; r++)
                {
                    var src = new ReadOnlySpan<float>((float*)P + (long)r * 2 * f, 2 * f);
                    GegluKernel.Apply(src[..f], src[f..], new Span<float>((float*)O + (long)r * f, f));
                }
            });
        }
    }

    /// <summary>[B, L, H·D] → [B, H, L, D] (a copy), the layout the attention kernel wants.</summary>
    public static Tensor SplitHeads(Tensor x, int heads)
    {
        int b = x.Shape[0], l = x.Shape[1], d = x.Shape[2] / heads;
        using var x4 = Ops.Reshape(x, b, l, heads, d);
        return Ops.Permute(x4, 0, 2, 1, 3);
    }

    /// <summary>[B, H, L, D] → [B, L, H·D] (a copy).</summary>
    public static Tensor MergeHeads(Tensor x)
    {
        int b = x.Shape[0], h = x.Shape[1], l = x.Shape[2], d = x.Shape[3];
        using var p = Ops.Permute(x, 0, 2, 1, 3);
        return Ops.Reshape(p, b, l, h * d);
    }

    public static void FillRows(Span<float> dst, ReadOnlySpan<float> row, int rows)
    {
        for (int r = 0; r < rows; r++) row.CopyTo(dst.Slice(r * row.Length, row.Length));
    }

    public static void AddRows(Span<float> dst, ReadOnlySpan<float> row, int rows)
    {
        for (int r = 0; r < rows; r++)
        {
            var d = dst.Slice(r * row.Length, row.Length);
            TensorPrimitives.Add(d, row, d);
        }
    }

    static unsafe void ParallelAdd(Span<float> a, ReadOnlySpan<float> b)
    {
        fixed (float* pa = a) fixed (float* pb = b)
        {
            nint A = (nint)pa, B = (nint)pb;
            Threading.Chunks(a.Length, 1 << 15, (s, e) =>
            {
                var d = new Span<float>((float*)A + s, e - s);
                TensorPrimitives.Add(d, new ReadOnlySpan<float>((float*)B + s, e - s), d);
            });
        }
    }
}
