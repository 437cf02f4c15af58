using Deja.Tensors.Kernels;
using Deja.Tensors.Tests.Support;

namespace Deja.Tensors.Tests;

// Switching the process-wide SIMD path must not race with tests that compare runs bit for bit.
[Collection(ThreadSensitive.Name)]
public class GegluKernelTests
{
    /// <summary>x·Φ(x) with Φ from a double-precision erfc (Taylor series near 0, continued fraction in the tail).</summary>
    static double GeluReference(double x) => x * 0.5 * Erfc(-x / Math.Sqrt(2));

    static double Erfc(double z)
    {
        if (z < 0) return 2 - Erfc(-z);
        if (z < 3)
        {
            // erf by its Taylor series: converges fast for z < 3 in double
            double sum = 0, term = z;
            for (int n = 0; n < 200; n++)
            {
                sum += term / (2 * n + 1);
                term *= -z * z / (n + 1);
            }
            return 1 - 2 / Math.Sqrt(Math.PI) * sum;
        }
        // continued fraction for the tail
        double f = 0;
        for (int k = 60; k >= 1; k--) f = k / 2.0 / (z + f);
        return Math.Exp(-z * z) / Math.Sqrt(Math.PI) / (z + f);
    }

    [Fact]
    public void GatedGeluMatchesDoublePrecisionInBothTails() => MatchesDoublePrecision(GegluKernel.Path);

    [Fact]
    public void ScalarPathMatchesDoublePrecision() => MatchesDoublePrecision(SimdPath.Scalar);

    [SimdFact(SimdPath.Vector)]
    public void VectorPathMatchesDoublePrecision() => MatchesDoublePrecision(SimdPath.Vector);

    [SimdFact(SimdPath.Vector512)]
    public void Vector512PathMatchesDoublePrecision() => MatchesDoublePrecision(SimdPath.Vector512);

    [Fact]
    public void EveryPathGivesTheSpecialValues()
    {
        foreach (var path in Enum.GetValues<SimdPath>().Where(Simd.Supports))
            OnPath(path, SpecialValuesFollowPyTorch);
    }

    static void OnPath(SimdPath path, Action body)
    {
        var old = GegluKernel.Path;
        GegluKernel.Path = path;
        try { body(); }
        finally { GegluKernel.Path = old; }
    }

    static void MatchesDoublePrecision(SimdPath path) => OnPath(path, () =>
    {
        // 1001 points: the vector body and the scalar tail both run
        int n = 1001;
        var gate = new float[n];
        var value = new float[n];
        for (int i = 0; i < n; i++) { gate[i] = -12f + 24f * i / (n - 1); value[i] = 1 + 0.001f * i; }
        var output = new float[n];
        GegluKernel.Apply(value, gate, output);
        for (int i = 0; i < n; i++)
        {
            double expected = value[i] * GeluReference(gate[i]);
            double err = Math.Abs(output[i] - expected);
            // float's rounding of x² costs exp(−x²/2) a relative x²/2·6e-8 in the far tail
            Assert.True(err <= (1e-6 + 1e-7 * gate[i] * gate[i]) * Math.Abs(expected) + 1e-37, $"{path} gate {gate[i]}: expected {expected:G9}, got {output[i]:G9}");
        }
    });

    /// <summary>The backward on every SIMD path against the derivative in double precision.</summary>
    [Fact]
    public void BackwardMatchesDoublePrecisionOnEveryPath()
    {
        foreach (var path in Enum.GetValues<SimdPath>().Where(Simd.Supports))
            OnPath(path, () =>
            {
                int n = 1001;
                var gate = new float[n]; var value = new float[n]; var grad = new float[n];
                for (int i = 0; i < n; i++) { gate[i] = -12f + 24f * i / (n - 1); value[i] = 1 + 0.001f * i; grad[i] = 0.5f - 0.0007f * i; }
                var dValue = new float[n]; var dGate = new float[n];
                GegluKernel.Backward(value, gate, grad, dValue, dGate);
                for (int i = 0; i < n; i++)
                {
                    double x = gate[i], cdf = 0.5 * Erfc(-x / Math.Sqrt(2)), pdf = Math.Exp(-x * x / 2) / Math.Sqrt(2 * Math.PI);
                    double ev = grad[i] * x * cdf, eg = grad[i] * value[i] * (cdf + x * pdf);
                    double tol = 1e-6 + 1e-7 * x * x;
                    Assert.True(Math.Abs(dValue[i] - ev) <= tol * Math.Abs(ev) + 1e-37, $"{path} dvalue at {x}: expected {ev:G9}, got {dValue[i]:G9}");
                    // Φ + x·φ cancels for x ≪ 0 (both terms ~ φ/|x|): an absolute bound there
                    Assert.True(Math.Abs(dGate[i] - eg) <= tol * Math.Abs(eg) + 1e-7 * Math.Abs(grad[i] * value[i]) * (cdf + Math.Abs(x) * pdf), $"{path} dgate at {x}: expected {eg:G9}, got {dGate[i]:G9}");
                }
            });
    }

    [Fact]
    public void GatedGeluAgreesWithTheEngineGelu()
    {
        var g = new Generator(5);
        var gate = Tensor.RandN(g, 4099).ToArray().Select(v => 3 * v).ToArray();
        var value = Tensor.RandN(g, 4099).ToArray();
        var output = new float[gate.Length];
        GegluKernel.Apply(value, gate, output);
        var gelu = new float[gate.Length];
        ErfKernel.Gelu(gate, gelu);
        for (int i = 0; i < gate.Length; i++)
            Assert.True(Math.Abs(output[i] - value[i] * gelu[i]) <= 2e-7 * (1 + Math.Abs(value[i] * gelu[i])), $"{i}: {output[i]} vs {value[i] * gelu[i]}");
    }

    [Fact]
    public void SpecialValuesFollowPyTorch()
    {
        float[] gate = [0f, float.PositiveInfinity, float.NaN, -0f];
        float[] value = [1f, 1f, 1f, 2f];
        var output = new float[4];
        GegluKernel.Apply(value, gate, output);
        Assert.Equal(0f, output[0]);
        Assert.Equal(float.PositiveInfinity, output[1]);
        Assert.True(float.IsNaN(output[2]));
        Assert.Equal(0f, output[3]);
    }
}
