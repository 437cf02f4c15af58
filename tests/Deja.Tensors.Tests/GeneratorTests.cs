namespace Deja.Tensors.Tests;

[Collection(Deja.Tensors.Tests.ThreadSensitive.Name)]
public class GeneratorTests
{
    [Fact]
    public void SameSeedSameBits()
    {
        var a = Tensor.RandN(new Generator(42), 1000).ToArray();
        var b = Tensor.RandN(new Generator(42), 1000).ToArray();
        Assert.Equal(a.Select(BitConverter.SingleToInt32Bits), b.Select(BitConverter.SingleToInt32Bits));
        var c = Tensor.RandN(new Generator(43), 1000).ToArray();
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void DrawsDoNotDependOnThreadCount()
    {
        int saved = Kernels.Threading.Threads;
        try
        {
            Kernels.Threading.Threads = 1;
            var one = Tensor.RandN(new Generator(5), 300_000).ToArray();
            Kernels.Threading.Threads = 2;
            var two = Tensor.RandN(new Generator(5), 300_000).ToArray();
            Assert.True(one.AsSpan().SequenceEqual(two));
        }
        finally { Kernels.Threading.Threads = saved; }
    }

    [Fact]
    public void NormalHasUnitMomentsAndSymmetricTails()
    {
        var x = Tensor.RandN(new Generator(7), 400_000).ToArray();
        double mean = x.Average(v => (double)v);
        double var = x.Average(v => (v - mean) * (v - mean));
        double kurt = x.Average(v => Math.Pow(v - mean, 4)) / (var * var);
        Assert.InRange(mean, -0.01, 0.01);
        Assert.InRange(var, 0.99, 1.01);
        Assert.InRange(kurt, 2.95, 3.05);
        // P(|z| > 2) = 0.0455
        Assert.InRange(x.Count(v => Math.Abs(v) > 2) / (double)x.Length, 0.043, 0.048);
    }

    [Fact]
    public void UniformAndRademacher()
    {
        var u = Tensor.Uniform(new Generator(8), -2, 3, 100_000).ToArray();
        Assert.All(u, v => Assert.InRange(v, -2f, 3f));
        Assert.InRange(u.Average(v => (double)v), 0.48, 0.52);
        var r = Tensor.Rademacher(new Generator(9), 100_001).ToArray();
        Assert.All(r, v => Assert.True(v == 1f || v == -1f));
        Assert.InRange(r.Average(v => (double)v), -0.01, 0.01);
    }

    [Fact]
    public void NextIntIsInRangeAndForkIsIndependentButDeterministic()
    {
        var g = new Generator(3);
        var counts = new int[7];
        for (int i = 0; i < 70_000; i++) counts[g.NextInt(7)]++;
        Assert.All(counts, c => Assert.InRange(c, 9_500, 10_500));
        var f1 = new Generator(3).Fork().NextUInt64();
        var f2 = new Generator(3).Fork().NextUInt64();
        Assert.Equal(f1, f2);
        Assert.NotEqual(new Generator(3).NextUInt64(), f1);
    }
}
