namespace Deja.Tensors.Tests.Support;

/// <summary>Double-precision reference implementations the op tests compare against.</summary>
public static class Reference
{
    /// <summary>
    /// erf by its everywhere-convergent series of positive terms,
    /// erf(x) = 2/√π · e^(−x²) · Σ 2ⁿ x^(2n+1) / (1·3·…·(2n+1)), accurate to ~1e-15 relative (no cancellation).
    /// </summary>
    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return x;
        double a = Math.Abs(x);
        if (a > 6) return Math.Sign(x);
        double term = a, sum = a;
        for (int n = 1; n < 1000 && term > 1e-18 * sum; n++)
        {
            term *= 2 * a * a / (2 * n + 1);
            sum += term;
        }
        return Math.CopySign(2 / Math.Sqrt(Math.PI) * Math.Exp(-a * a) * sum, x);
    }

    /// <summary>erfc(x) for x ≥ 0, accurate relative to its own size: 1 − erf below 2, else Laplace's continued fraction.</summary>
    public static double Erfc(double x)
    {
        if (x < 0) return 2 - Erfc(-x);
        if (x < 2) return 1 - Erf(x);
        // erfc(x) = e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + …))))), evaluated from the tail.
        double f = x;
        for (int k = 400; k >= 1; k--) f = x + k / 2.0 / f;
        return Math.Exp(-x * x) / Math.Sqrt(Math.PI) / f;
    }

    /// <summary>Standard normal CDF, accurate in both tails.</summary>
    public static double NormalCdf(double x) => x < 0 ? 0.5 * Erfc(-x / Math.Sqrt(2)) : 1 - 0.5 * Erfc(x / Math.Sqrt(2));

    public static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    public static double Gelu(double x) => x * NormalCdf(x);

    public static double GeluTanh(double x) => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));

    /// <summary>Applies f to every element.</summary>
    public static double[] Map(Tensor x, Func<double, double> f) => x.ToArray().Select(v => f(v)).ToArray();

    /// <summary>
    /// A reduction over <paramref name="dims"/> (all when empty) by brute force: each output gets the list of
    /// its inputs in row-major order. Returns the values in the row-major order of the kept dims.
    /// </summary>
    public static double[] Reduce(Tensor x, int[] dims, Func<double[], double> f)
    {
        int r = x.Rank;
        var reduced = new bool[r];
        if (dims.Length == 0) Array.Fill(reduced, true);
        foreach (var d in dims) reduced[d < 0 ? d + r : d] = true;
        var keepShape = x.Shape.Select((s, i) => reduced[i] ? 1 : s).ToArray();
        int outCount = keepShape.Aggregate(1, (a, b) => a * b);
        var groups = Enumerable.Range(0, outCount).Select(_ => new List<double>()).ToArray();
        var data = x.ToArray();
        var idx = new int[r];
        for (int flat = 0; flat < data.Length; flat++)
        {
            int rem = flat;
            for (int d = r - 1; d >= 0; d--) { idx[d] = rem % x.Shape[d]; rem /= x.Shape[d]; }
            int o = 0;
            for (int d = 0; d < r; d++) o = o * keepShape[d] + (reduced[d] ? 0 : idx[d]);
            groups[o].Add(data[flat]);
        }
        return groups.Select(g => f(g.ToArray())).ToArray();
    }

    /// <summary>A permuted copy by index arithmetic: output dim i is input dim perm[i].</summary>
    public static double[] Permute(Tensor x, int[] perm)
    {
        var data = x.ToArray();
        var outShape = perm.Select(p => x.Shape[p]).ToArray();
        var inStrides = Shapes.Strides(x.Shape);
        var o = new double[data.Length];
        var idx = new int[perm.Length];
        for (int flat = 0; flat < o.Length; flat++)
        {
            int rem = flat, src = 0;
            for (int d = perm.Length - 1; d >= 0; d--) { idx[d] = rem % outShape[d]; rem /= outShape[d]; src += idx[d] * inStrides[perm[d]]; }
            o[flat] = data[src];
        }
        return o;
    }
}
