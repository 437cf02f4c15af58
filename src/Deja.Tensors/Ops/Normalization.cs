using Deja.Tensors.Kernels;

namespace Deja.Tensors;

/// <summary>
/// group_norm and layer_norm with PyTorch semantics (biased variance, eps inside the square root).
/// Forward and backward are fused kernels over contiguous rows (Kernels/NormKernels.cs); the backward
/// uses the mean and 1/std saved by the forward. They are first-order only: double backward throws.
/// </summary>
public static partial class Ops
{
    /// <summary>
    /// Group normalization of x [N, C, ...]: the C channels form <paramref name="groups"/> groups of
    /// C/groups consecutive channels, and each (sample, group) is normalized over its channels and all
    /// spatial positions, then scaled and shifted per channel by <paramref name="weight"/> and
    /// <paramref name="bias"/> ([C], optional).
    /// </summary>
    public static Tensor GroupNorm(Tensor x, int groups, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
        => GroupNormCore(x, groups, weight, bias, eps, silu: false);

    /// <summary>SiLU(GroupNorm(x)) in one pass over memory (Stable Diffusion's ResNet blocks always pair them).</summary>
    public static Tensor GroupNormSilu(Tensor x, int groups, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
        => GroupNormCore(x, groups, weight, bias, eps, silu: true);

    static Tensor GroupNormCore(Tensor x, int groups, Tensor? weight, Tensor? bias, double eps, bool silu)
    {
        string op = silu ? "group_norm_silu" : "group_norm";
        if (x.Rank < 2)
            throw new ArgumentException($"{op}: input must be [N, C, ...], got shape {Shapes.Str(x.Shape)}");
        int n = x.Shape[0], c = x.Shape[1];
        if (groups <= 0)
            throw new ArgumentException($"{op}: groups must be positive, got {groups}");
        if (c % groups != 0)
            throw new ArgumentException($"{op}: {c} channels of input {Shapes.Str(x.Shape)} cannot be split into {groups} groups");
        NormCheckAffine(op, "weight", weight, c, "channels");
        NormCheckAffine(op, "bias", bias, c, "channels");

        int spatial = Shapes.Numel(x.Shape.AsSpan(2)), perGroup = c / groups, rowLen = perGroup * spatial, rows = n * groups;
        var o = Tensor.Empty(x.Shape);
        var (center, offset, rstd) = (new float[rows], new float[rows], new float[rows]);
        float[] xa = x.Array, oa = o.Array;
        int xo = x.Offset, oo = o.Offset;
        Threading.For(rows, r =>
        {
            var row = xa.AsSpan(xo + r * rowLen, rowLen);
            NormKernels.MeanRstd(row, eps, out center[r], out offset[r], out rstd[r]);
            int first = r % groups * perGroup;
            for (int k = 0; k < perGroup; k++)
            {
                float scale = rstd[r] * (weight is null ? 1f : weight.ReadOnlySpan[first + k]);
                float shift = bias is null ? 0f : bias.ReadOnlySpan[first + k];
                var dst = oa.AsSpan(oo + r * rowLen + k * spatial, spatial);
                NormKernels.Affine(row.Slice(k * spatial, spatial), center[r], offset[r], scale, shift, dst);
                if (silu) NormKernels.SiluInPlace(dst);
            }
        });

        var inputs = NormInputs(x, weight, bias);
        var saved = silu && bias is not null ? NormInputs(x, weight, bias) : NormInputs(x, weight, null);
        return Autograd.Record(o, op, inputs, g =>
        {
            NormNoDoubleBackward(op);
            var (dx, dw, db) = GroupNormBackward(g, x, weight, bias, groups, center, offset, rstd, silu);
            return NormGrads(inputs.Length, dx, dw, db);
        }, saved);
    }

    /// <summary>
    /// With dxhat = g·w and M elements per group, dx = rstd·(dxhat − mean(dxhat) − xhat·mean(dxhat·xhat)).
    /// Per (sample, channel) the kernel gathers Σg and Σg·(x − mean); per group those give the two means,
    /// and per channel summed over samples they give dbias and dweight. For the fused SiLU, g is first
    /// replaced by the gradient at the normalized value (written into dx's buffer, transformed in place).
    /// </summary>
    static (Tensor? dx, Tensor? dw, Tensor? db) GroupNormBackward(Tensor g, Tensor x, Tensor? weight, Tensor? bias,
        int groups, float[] center, float[] offset, float[] rstd, bool silu)
    {
        int n = x.Shape[0], c = x.Shape[1], perGroup = c / groups;
        int spatial = Shapes.Numel(x.Shape.AsSpan(2)), rowLen = perGroup * spatial;
        bool needX = x.RequiresGrad, needW = weight?.RequiresGrad == true, needB = bias?.RequiresGrad == true;
        var dx = needX || silu ? Tensor.Empty(x.Shape) : null;
        float[] xa = x.Array, ga = g.Array;
        int xo = x.Offset, go = g.Offset;
        // the gradient at the normalized value: g itself, or the SiLU-adjusted copy in dx's buffer
        float[] za = silu ? dx!.Array : ga;
        int zo = silu ? dx!.Offset : go;
        float W(int ch) => weight is null ? 1f : weight.ReadOnlySpan[ch];

        var sumG = new double[n * c];
        var sumGXc = new double[n * c];
        Threading.For(n * c, i =>
        {
            int ch = i % c, r = i / c * groups + ch / perGroup, at = i * spatial; // channel i = (sample, ch)
            var xs = xa.AsSpan(xo + at, spatial);
            if (silu)
            {
                float shift = bias is null ? 0f : bias.ReadOnlySpan[ch];
                NormKernels.SiluGrad(ga.AsSpan(go + at, spatial), xs, center[r], offset[r], rstd[r] * W(ch), shift, za.AsSpan(zo + at, spatial));
            }
            NormKernels.GradSums(za.AsSpan(zo + at, spatial), xs, center[r], offset[r], out sumG[i], out sumGXc[i]);
        });

        Tensor? dw = null, db = null;
        if (needW || needB)
        {
            var dwSum = new double[c];
            var dbSum = new double[c];
            for (int s = 0; s < n; s++)
                for (int ch = 0; ch < c; ch++)
                {
                    int r = s * groups + ch / perGroup;
                    dwSum[ch] += rstd[r] * sumGXc[s * c + ch];
                    dbSum[ch] += sumG[s * c + ch];
                }
            if (needW) dw = NormFromDoubles(dwSum);
            if (needB) db = NormFromDoubles(dbSum);
        }

        if (needX)
        {
            // per group: A = Σ dxhat, Bc = Σ dxhat·(x − mean), so Σ dxhat·xhat = rstd·Bc
            var k2 = new float[n * groups];
            var k3 = new float[n * groups];
            for (int r = 0; r < n * groups; r++)
            {
                double a = 0, bc = 0;
                int s = r / groups, first = r % groups * perGroup;
                for (int k = 0; k < perGroup; k++)
                {
                    a += W(first + k) * sumG[s * c + first + k];
                    bc += W(first + k) * sumGXc[s * c + first + k];
                }
                double rs = rstd[r], m = rowLen;
                k2[r] = (float)(-rs * rs * rs * bc / m);
                k3[r] = (float)(-rs * a / m);
            }
            float[] da = dx!.Array;
            int dOff = dx.Offset;
            Threading.For(n * c, i =>
            {
                int ch = i % c, r = i / c * groups + ch / perGroup, at = i * spatial;
                NormKernels.InputGrad(za.AsSpan(zo + at, spatial), xa.AsSpan(xo + at, spatial), center[r], offset[r],
                    rstd[r] * W(ch), k2[r], k3[r], da.AsSpan(dOff + at, spatial));
            });
        }
        else dx?.Dispose();
        return (needX ? dx : null, dw, db);
    }

    /// <summary>
    /// Layer normalization over the last dim of x [..., D], then per-feature scale and shift by
    /// <paramref name="weight"/> and <paramref name="bias"/> ([D], optional).
    /// </summary>
    public static Tensor LayerNorm(Tensor x, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
    {
        const string op = "layer_norm";
        if (x.Rank < 1) throw new ArgumentException($"{op}: input must have at least one dim, got a scalar");
        int d = x.Shape[^1];
        NormCheckAffine(op, "weight", weight, d, "features in the last dim");
        NormCheckAffine(op, "bias", bias, d, "features in the last dim");
        int rows = d == 0 ? 0 : x.Length / d;
        var o = Tensor.Empty(x.Shape);
        var (center, offset, rstd) = (new float[rows], new float[rows], new float[rows]);
        float[] xa = x.Array, oa = o.Array;
        int xo = x.Offset, oo = o.Offset;
        float[] w = weight?.ToArray() ?? NormFilled(d, 1f), b = bias?.ToArray() ?? new float[d];
        Threading.Chunks(rows, LayerNormChunk(d), (start, end) =>
        {
            for (int r = start; r < end; r++)
            {
                var row = xa.AsSpan(xo + r * d, d);
                NormKernels.MeanRstd(row, eps, out center[r], out offset[r], out rstd[r]);
                NormKernels.AffineRow(row, center[r], offset[r], rstd[r], w, b, oa.AsSpan(oo + r * d, d));
            }
        });

        var inputs = NormInputs(x, weight, bias);
        return Autograd.Record(o, op, inputs, g =>
        {
            NormNoDoubleBackward(op);
            var (dx, dw, db) = LayerNormBackward(g, x, weight, bias, center, offset, rstd);
            return NormGrads(inputs.Length, dx, dw, db);
        }, NormInputs(x, weight, null));
    }

    /// <summary>
    /// Rows in fixed chunks: each chunk adds its rows' dweight/dbias terms into its own partial
    /// vector, and the partials are summed in chunk order, so the result does not depend on threads.
    /// </summary>
    static (Tensor? dx, Tensor? dw, Tensor? db) LayerNormBackward(Tensor g, Tensor x, Tensor? weight, Tensor? bias, float[] center, float[] offset, float[] rstd)
    {
        int d = x.Shape[^1], rows = rstd.Length, chunk = LayerNormChunk(d), chunks = (rows + chunk - 1) / chunk;
        bool needX = x.RequiresGrad, needW = weight?.RequiresGrad == true, needB = bias?.RequiresGrad == true;
        var dx = needX ? Tensor.Empty(x.Shape) : null;
        float[] xa = x.Array, ga = g.Array, w = weight?.ToArray() ?? NormFilled(d, 1f);
        int xo = x.Offset, go = g.Offset;
        float[]? da = dx?.Array;
        int dOff = dx?.Offset ?? 0;
        var partW = needW ? new float[chunks * d] : [];
        var partB = needB ? new float[chunks * d] : [];
        Threading.For(chunks, ci =>
        {
            var pw = needW ? partW.AsSpan(ci * d, d) : default;
            var pb = needB ? partB.AsSpan(ci * d, d) : default;
            for (int r = ci * chunk; r < Math.Min(rows, (ci + 1) * chunk); r++)
            {
                var gs = ga.AsSpan(go + r * d, d);
                var xs = xa.AsSpan(xo + r * d, d);
                var (a, bc) = NormKernels.LayerNormRowSums(gs, xs, w, center[r], offset[r], rstd[r], pw, pb);
                if (da is null) continue;
                double rs = rstd[r];
                NormKernels.LayerNormRowInputGrad(gs, xs, w, center[r], offset[r], rstd[r],
                    (float)(-rs * rs * rs * bc / d), (float)(-rs * a / d), da.AsSpan(dOff + r * d, d));
            }
        });
        return (dx, needW ? NormSumPartials(partW, chunks, d) : null, needB ? NormSumPartials(partB, chunks, d) : null);
    }

    /// <summary>Rows per parallel task: about 16K elements, a function of D only.</summary>
    static int LayerNormChunk(int d) => Math.Max(1, 16384 / Math.Max(d, 1));

    static Tensor NormSumPartials(float[] parts, int chunks, int d)
    {
        var sum = new double[d];
        for (int ci = 0; ci < chunks; ci++)
            for (int j = 0; j < d; j++) sum[j] += parts[ci * d + j];
        return NormFromDoubles(sum);
    }

    static void NormCheckAffine(string op, string what, Tensor? t, int features, string unit)
    {
        if (t is not null && (t.Rank != 1 || t.Shape[0] != features))
            throw new ArgumentException($"{op}: {what} of shape {Shapes.Str(t.Shape)} does not match the {features} {unit} (expected [{features}])");
    }

    static void NormNoDoubleBackward(string op)
    {
        if (GradMode.IsEnabled)
            throw new NotSupportedException($"double backward through {op} is not supported (its backward is a fused first-order kernel); use a finite-difference JVP");
    }

    static Tensor[] NormInputs(Tensor x, Tensor? weight, Tensor? bias)
    {
        var list = new List<Tensor> { x };
        if (weight is not null) list.Add(weight);
        if (bias is not null) list.Add(bias);
        return list.ToArray();
    }

    /// <summary>Gradients in the order of <see cref="NormInputs"/>: x, then weight and bias if given.</summary>
    static Tensor?[] NormGrads(int count, Tensor? dx, Tensor? dw, Tensor? db) => count switch
    {
        1 => [dx],
        2 => [dx, dw ?? db],
        _ => [dx, dw, db],
    };

    static Tensor NormFromDoubles(double[] values)
    {
        var t = Tensor.Empty(values.Length);
        var s = t.Span;
        for (int i = 0; i < values.Length; i++) s[i] = (float)values[i];
        return t;
    }

    static float[] NormFilled(int length, float value)
    {
        var a = new float[length];
        Array.Fill(a, value);
        return a;
    }
}
