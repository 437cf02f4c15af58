using Deja.Tensors;

namespace Deja.Memorization.Fuzzing;

/// <summary>The fuzzer's source of choices: Deja's seeded xoshiro generator with the helpers mutations need.</summary>
public sealed class FuzzRandom
{
    readonly Generator generator;

    public FuzzRandom(ulong seed) => generator = new Generator(seed);

    /// <summary>The generator of input <paramref name="index"/> of <paramref name="target"/> in a run seeded <paramref name="seed"/>:
    /// every input can be reproduced on its own, whatever ran before it.</summary>
    public static FuzzRandom ForInput(long seed, string target, long index)
    {
        ulong h = 0xCBF29CE484222325UL;
        foreach (char c in target) h = (h ^ c) * 0x100000001B3UL;
        return new FuzzRandom(h ^ (ulong)seed * 0x9E3779B97F4A7C15UL ^ (ulong)index * 0xD1B54A32D192ED03UL);
    }

    /// <summary>Uniform in [0, n).</summary>
    public int Next(int n) => generator.NextInt(n);

    /// <summary>Uniform in [low, high] (both included).</summary>
    public int Between(int low, int high) => low + Next(high - low + 1);

    public bool Chance(double p) => generator.NextDouble() < p;

    public ulong NextUInt64() => generator.NextUInt64();

    public T Pick<T>(IReadOnlyList<T> items) => items[Next(items.Count)];

    public byte[] Bytes(int n)
    {
        var b = new byte[n];
        for (int i = 0; i < n; i++) b[i] = (byte)generator.NextUInt64();
        return b;
    }

    /// <summary>A position in [0, length), biased towards the start where headers and first checks live.</summary>
    public int Position(int length)
    {
        if (length <= 0) return 0;
        return Chance(0.5) ? Next(Math.Min(length, 256)) : Next(length);
    }
}
