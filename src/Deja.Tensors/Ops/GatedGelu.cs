using Deja.Tensors.Kernels;

namespace Deja.Tensors;

public static partial class Ops
{
    /// <summary>
    /// GEGLU's gate as one op: p [..., 2F] = [value | gate] → value·gelu(gate) [..., F], exact (erf)
    /// GELU evaluated by <see cref="GegluKernel"/> (float, relative error ≤ 1.2e-7 in Φ: the same values
    /// as the UNet's inference forward). Its backward keeps only p and recomputes Φ(gate) and φ(gate)
    /// in one pass, where Mul(value, Gelu(gate)) keeps gelu(gate) too (half of p again, 42 MB per SD
    /// transformer block at 64×64) and its backward takes five passes with full-size temporaries.
    /// A createGraph backward (double backward) is composed from differentiable ops instead.
    /// </summary>
    public static Tensor GatedGelu(Tensor p)
    {
        if (p.Rank < 1 || p.Shape[^1] % 2 != 0)
            throw new ArgumentException($"gated_gelu: the last dim must hold value and gate halves, got {Shapes.Str(p.Shape)}");
        int f = p.Shape[^1] / 2, rows = f == 0 ? 0 : p.Length / (2 * f);
        var o = Tensor.Empty([.. p.Shape[..^1], f]);
        float[] pa = p.Array, oa = o.Array;
        int po = p.Offset, oo = o.Offset;
        GatedRows(rows, f, (r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
            {
                var row = pa.AsSpan(po + r * 2 * f, 2 * f);
                GegluKernel.Apply(row[..f], row[f..], oa.AsSpan(oo + r * f, f));
            }
        });
        return Autograd.Record(o, "gated_gelu", [p], g => [GradMode.IsEnabled ? GatedGeluGradComposed(p, g, f) : GatedGeluGrad(p, g, f, rows)], p);
    }

    /// <summary>d/dvalue = g·gelu(gate), d/dgate = g·value·(Φ(gate) + gate·φ(gate)), one pass per row.</summary>
    static Tensor GatedGeluGrad(Tensor p, Tensor g, int f, int rows)
    {
        var dp = Tensor.Empty(p.Shape);
        float[] pa = p.Array, ga = g.Array, da = dp.Array;
        int po = p.Offset, go = g.Offset, dOff = dp.Offset;
        GatedRows(rows, f, (r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
            {
                var row = pa.AsSpan(po + r * 2 * f, 2 * f);
                var dRow = da.AsSpan(dOff + r * 2 * f, 2 * f);
                GegluKernel.Backward(row[..f], row[f..], ga.AsSpan(go + r * f, f), dRow[..f], dRow[f..]);
            }
        });
        return dp;
    }

    /// <summary>The same gradient from differentiable ops, so a createGraph backward can go through it.</summary>
    static Tensor GatedGeluGradComposed(Tensor p, Tensor g, int f)
    {
        using var value = Narrow(p, -1, 0, f);
        using var gate = Narrow(p, -1, f, f);
        using var gelu = Gelu(gate);
        using var dValue = Mul(g, gelu);
        using var cdf = NormalCdf(gate);
        using var pdf = NormalPdf(gate);
        using var xpdf = Mul(gate, pdf);
        using var slope = Add(cdf, xpdf);
        using var gv = Mul(g, value);
        using var dGate = Mul(gv, slope);
        return Concat([dValue, dGate], -1);
    }

    /// <summary>A few rows per task: enough tasks to balance, each a contiguous run.</summary>
    static void GatedRows(int rows, int f, Action<int, int> body)
    {
        if ((long)rows * f < Elementwise.ParallelThreshold) { body(0, rows); return; }
        Threading.Chunks(rows, Math.Max(1, 8192 / Math.Max(f, 1)), body);
    }
}
