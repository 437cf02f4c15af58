using Deja.Tensors;

namespace Deja.Memorization.Detection;

/// <summary>Per-row reductions shared by the detectors, in double where they end in a score.</summary>
static class Reduce
{
    /// <summary>‖row‖₂ over all of each row's elements: [R, ...] → R values.</summary>
    public static double[] RowNorms(Tensor x)
    {
        int rows = x.Shape[0], size = x.Length / rows;
        var s = x.ReadOnlySpan;
        var result = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            double sum = 0;
            foreach (var v in s.Slice(r * size, size)) sum += (double)v * v;
            result[r] = Math.Sqrt(sum);
        }
        return result;
    }

    /// <summary>
    /// The mean over pixels of the cosine along the channel axis, per row: [R, C, H, W] pairs → R values.
    /// PyTorch's convention a·b / max(‖a‖‖b‖, 1e-8) (METHODS.md §3.1).
    /// </summary>
    public static double[] MeanChannelCosine(Tensor a, Tensor b)
    {
        if (!Shapes.Equal(a.Shape, b.Shape) || a.Rank != 4) throw new ArgumentException($"channel cosine: need two [R, C, H, W] tensors, got {Shapes.Str(a.Shape)} and {Shapes.Str(b.Shape)}");
        int rows = a.Shape[0], c = a.Shape[1], hw = a.Shape[2] * a.Shape[3];
        var sa = a.ReadOnlySpan; var sb = b.ReadOnlySpan;
        var result = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            double total = 0;
            for (int p = 0; p < hw; p++)
            {
                double dot = 0, na = 0, nb = 0;
                for (int ch = 0; ch < c; ch++)
                {
                    int i = (r * c + ch) * hw + p;
                    double x = sa[i], y = sb[i];
                    dot += x * y; na += x * x; nb += y * y;
                }
                total += dot / Math.Max(Math.Sqrt(na * nb), 1e-8);
            }
            result[r] = total / hw;
        }
        return result;
    }

    /// <summary>Means of consecutive groups of <paramref name="n"/> values (the generations of each prompt).</summary>
    public static double[] GroupMeans(double[] values, int n)
    {
        var result = new double[values.Length / n];
        for (int p = 0; p < result.Length; p++)
        {
            double sum = 0;
            for (int j = 0; j < n; j++) sum += values[p * n + j];
            result[p] = sum / n;
        }
        return result;
    }
}
