using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Deja.Tensors;
using Deja.Tensors.Kernels;

namespace Deja.Diffusion.Models.Vae;

/// <summary>Helpers that keep the VAE's peak memory low: at 512×512 one activation is hundreds of MB.</summary>
internal static class Intermediates
{
    const int Chunk = 1 << 16;

    /// <summary>
    /// <paramref name="fresh"/> + <paramref name="other"/>, consuming <paramref name="fresh"/> (a tensor the
    /// caller created and owns). When no graph is recorded the sum is written into <paramref name="fresh"/>
    /// itself, saving a buffer; otherwise it is the differentiable add and <paramref name="fresh"/> is released.
    /// </summary>
    public static Tensor AddInto(Tensor fresh, Tensor other)
    {
        if (GradMode.IsEnabled && (fresh.RequiresGrad || other.RequiresGrad))
        {
            var sum = fresh + other;
            fresh.Dispose();
            return sum;
        }
        if (!Shapes.Equal(fresh.Shape, other.Shape))
            throw new ArgumentException($"residual add: shapes {Shapes.Str(fresh.Shape)} and {Shapes.Str(other.Shape)} differ");
        Threading.Chunks(fresh.Length, Chunk, (start, end) =>
            TensorPrimitives.Add(fresh.Span[start..end], other.ReadOnlySpan[start..end], fresh.Span[start..end]));
        return fresh;
    }

    /// <summary>Releases <paramref name="input"/> unless it is <paramref name="result"/> (ops may return their input) or owned by the caller.</summary>
    public static Tensor Release(Tensor input, Tensor result, Tensor? callerOwned = null)
    {
        if (!ReferenceEquals(input, result) && !ReferenceEquals(input, callerOwned)) input.Dispose();
        return result;
    }
}
