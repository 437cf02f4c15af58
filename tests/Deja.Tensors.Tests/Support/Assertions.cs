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

public static class Rand
{
    public static Deja.Tensors.Tensor Normal(ulong seed, params int[] shape) => Deja.Tensors.Tensor.RandN(new Deja.Tensors.Generator(seed), shape);
}
