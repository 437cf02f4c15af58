namespace Deja.Tensors;

/// <summary>
/// A seeded random generator (xoshiro256**, seeded through SplitMix64). Draws are sequential, so the
/// same seed gives the same bits whatever the thread count. Normal draws use the Box–Muller transform
/// in double precision, both values of each pair in order.
/// </summary>
public sealed class Generator
{
    ulong s0, s1, s2, s3;
    double? spare;

    public Generator(ulong seed)
    {
        Seed = seed;
        ulong x = seed;
        s0 = SplitMix(ref x); s1 = SplitMix(ref x); s2 = SplitMix(ref x); s3 = SplitMix(ref x);
    }

    public Generator(long seed) : this(unchecked((ulong)seed)) { }

    public ulong Seed { get; }

    static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    static ulong Rotl(ulong x, int k) => (x << k) | (x >> (64 - k));

    public ulong NextUInt64()
    {
        ulong result = Rotl(s1 * 5, 7) * 9;
        ulong t = s1 << 17;
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3;
        s2 ^= t;
        s3 = Rotl(s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform float in [0, 1) with 24 random bits.</summary>
    public float NextFloat() => (NextUInt64() >> 40) * (1f / (1 << 24));

    /// <summary>Uniform integer in [0, n).</summary>
    public int NextInt(int n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n), "NextInt: n must be positive");
        return (int)((NextUInt64() >> 33) * (ulong)n >> 31);
    }

    /// <summary>Standard normal.</summary>
    public double NextNormal()
    {
        if (spare is double s) { spare = null; return s; }
        double u1 = 1.0 - NextDouble(); // (0, 1]: log is finite
        double u2 = NextDouble();
        double r = Math.Sqrt(-2.0 * Math.Log(u1));
        double a = 2.0 * Math.PI * u2;
        spare = r * Math.Sin(a);
        return r * Math.Cos(a);
    }

    /// <summary>A new generator seeded from this one (for independent streams).</summary>
    public Generator Fork() => new(NextUInt64());

    public void FillNormal(Span<float> dst, float mean = 0, float std = 1)
    {
        for (int i = 0; i < dst.Length; i++) dst[i] = (float)(mean + std * NextNormal());
    }

    public void FillUniform(Span<float> dst, float low = 0, float high = 1)
    {
        for (int i = 0; i < dst.Length; i++) dst[i] = low + (high - low) * NextFloat();
    }

    /// <summary>±1 with equal probability.</summary>
    public void FillRademacher(Span<float> dst)
    {
        int i = 0;
        while (i < dst.Length)
        {
            ulong bits = NextUInt64();
            for (int b = 0; b < 64 && i < dst.Length; b++, i++) dst[i] = ((bits >> b) & 1) == 0 ? -1f : 1f;
        }
    }
}

public sealed partial class Tensor
{
    public static Tensor RandN(Generator g, params int[] shape)
    {
        var t = Empty(shape);
        g.FillNormal(t.Span);
        return t;
    }

    public static Tensor Rand(Generator g, params int[] shape)
    {
        var t = Empty(shape);
        g.FillUniform(t.Span);
        return t;
    }

    public static Tensor Uniform(Generator g, float low, float high, params int[] shape)
    {
        var t = Empty(shape);
        g.FillUniform(t.Span, low, high);
        return t;
    }

    public static Tensor Rademacher(Generator g, params int[] shape)
    {
        var t = Empty(shape);
        g.FillRademacher(t.Span);
        return t;
    }
}
