namespace Deja.Tensors.Tests.Support;

public static class Close
{
    /// <summary>|a − e| ≤ atol + rtol·|e| elementwise, with the worst element in the message.</summary>
    public static void All(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, double rtol = 1e-5, double atol = 1e-6, string what = "")
    {
        Assert.Equal(expected.Length, actual.Length);
        int worst = -1; double worstExcess = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double err = Math.Abs(actual[i] - expected[i]);
            double tol = atol + rtol * Math.Abs(expected[i]);
            if (double.IsNaN(actual[i]) != double.IsNaN(expected[i]) || err > tol)
                if (worst < 0 || err - tol > worstExcess) { worst = i; worstExcess = err - tol; }
        }
        if (worst >= 0)
            Assert.Fail($"{what} element {worst}: expected {expected[worst]:G8}, got {actual[worst]:G8} (rtol {rtol}, atol {atol})");
    }

    public static void All(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double rtol = 1e-5, double atol = 1e-6, string what = "")
    {
        var e = new double[expected.Length];
        for (int i = 0; i < e.Length; i++) e[i] = expected[i];
        All(e, actual, rtol, atol, what);
    }
}

public static class Normwise
{
    /// <summary>max |a − e| ≤ rtol · max |e|: relative to the tensor's scale, the right measure for sums
    /// whose terms cancel (a single element's relative error is meaningless there).</summary>
    public static void Close(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double rtol = 1e-5, string what = "")
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = 0, worst = 0; int at = -1;
        for (int i = 0; i < expected.Length; i++) scale = Math.Max(scale, Math.Abs(expected[i]));
        for (int i = 0; i < expected.Length; i++)
        {
            double d = Math.Abs(expected[i] - actual[i]);
            if (double.IsNaN(d) || d > worst) { worst = double.IsNaN(d) ? double.PositiveInfinity : d; at = i; }
        }
        Assert.True(worst <= rtol * scale, $"{what} element {at}: difference {worst:G3} exceeds {rtol} × max|x| = {rtol * scale:G3}");
    }
}

public static class Rand
{
    public static Deja.Tensors.Tensor Normal(ulong seed, params int[] shape) => Deja.Tensors.Tensor.RandN(new Deja.Tensors.Generator(seed), shape);
}
