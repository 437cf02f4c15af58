namespace Deja.Tensors.Nn;

/// <summary>
/// Parameter initializers used by the layers. Inside <see cref="Skip"/> they return uninitialized
/// tensors instead: a model about to be filled from a checkpoint (strict load, every parameter
/// overwritten) need not draw hundreds of millions of random numbers first — about a second per
/// 100M parameters — nor touch its memory twice.
/// </summary>
public static class Init
{
    [ThreadStatic] static int skipDepth;

    /// <summary>True inside a <see cref="Skip"/> scope on this thread.</summary>
    public static bool Skipping => skipDepth > 0;

    /// <summary><c>using (Init.Skip()) model = new ...; loader.LoadStrict(model);</c></summary>
    public static SkipScope Skip()
    {
        skipDepth++;
        return new SkipScope();
    }

    public readonly struct SkipScope : IDisposable
    {
        public void Dispose() => skipDepth--;
    }

    public static Tensor Uniform(Generator? g, float low, float high, params int[] shape)
        => Skipping ? Tensor.Empty(shape) : Tensor.Uniform(g ?? new Generator(0), low, high, shape);

    public static Tensor Normal(Generator? g, params int[] shape)
        => Skipping ? Tensor.Empty(shape) : Tensor.RandN(g ?? new Generator(0), shape);
}
