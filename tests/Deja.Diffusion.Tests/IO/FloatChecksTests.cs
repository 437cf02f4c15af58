using Deja.Diffusion.IO;

namespace Deja.Diffusion.Tests.IO;

public class FloatChecksTests
{
    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void FindsTheFirstNonFiniteValueAtEveryPosition(float bad)
    {
        foreach (int length in new[] { 1, 7, 16, 17, 100, 1000 })
            for (int at = 0; at < length; at += Math.Max(1, length / 13))
            {
                var values = Enumerable.Range(0, length).Select(i => i % 2 == 0 ? float.MaxValue : -float.Epsilon * i).ToArray();
                values[at] = bad;
                if (at + 3 < length) values[at + 3] = float.NaN;
                Assert.Equal(at, FloatChecks.IndexOfNonFinite(values));
            }
    }

    [Fact]
    public void FiniteExtremesPass()
    {
        float[] values = [float.MaxValue, float.MinValue, float.Epsilon, -0f, 0f, 1e-40f, -1e-40f, .. Enumerable.Repeat(float.MaxValue, 40)];
        Assert.Equal(-1, FloatChecks.IndexOfNonFinite(values));
        Assert.Equal(-1, FloatChecks.IndexOfNonFinite([]));
    }
}
