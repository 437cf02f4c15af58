namespace Deja.Tensors;

public static partial class Ops
{
    /// <summary>
    /// Zeroes each element with probability <paramref name="p"/> and scales the rest by 1/(1 − p), with a
    /// mask drawn from <paramref name="generator"/> in element order (so the same seed gives the same mask
    /// for any thread count). Returns <paramref name="x"/> itself when not training or p = 0; p = 1 gives zeros.
    /// </summary>
    public static Tensor Dropout(Tensor x, float p, Generator generator, bool training = true)
    {
        if (!(p >= 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), $"dropout: p must be in [0, 1], got {p}");
        if (!training || p == 0) return x;
        using var mask = Tensor.Empty(x.Shape);
        var m = mask.Span;
        float keep = p == 1 ? 0f : 1f / (1 - p);
        for (int i = 0; i < m.Length; i++) m[i] = generator.NextFloat() < p ? 0f : keep;
        return Mul(x, mask);
    }
}
