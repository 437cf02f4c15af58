using Deja.Tensors;

namespace Deja.Diffusion.Models.Vae;

/// <summary>
/// The encoder's posterior q(z|x) = N(mean, diag(exp(logvar))) (diffusers' DiagonalGaussianDistribution):
/// the moments [B, 2·latent, h, w] are split along channels into mean and log-variance, the latter
/// clamped to [−30, 20]. Owns its tensors: dispose it when done.
/// </summary>
public sealed class DiagonalGaussian : IDisposable
{
    public const float LogVarMin = -30f, LogVarMax = 20f;

    public Tensor Mean { get; }
    public Tensor LogVar { get; }
    /// <summary>exp(logvar / 2).</summary>
    public Tensor Std { get; }

    /// <summary>Splits <paramref name="moments"/> [B, 2·L, h, w] (not consumed) into mean and log-variance.</summary>
    public DiagonalGaussian(Tensor moments)
    {
        if (moments.Rank != 4 || moments.Shape[1] == 0 || moments.Shape[1] % 2 != 0)
            throw new ArgumentException($"DiagonalGaussian: moments must be [B, 2·latent_channels, h, w], got {Shapes.Str(moments.Shape)}");
        int half = moments.Shape[1] / 2;
        Mean = Ops.Narrow(moments, 1, 0, half);
        using var raw = Ops.Narrow(moments, 1, half, half);
        LogVar = Ops.Clamp(raw, LogVarMin, LogVarMax);
        using var halfLogVar = LogVar * 0.5f;
        Std = Ops.Exp(halfLogVar);
        TensorScope.Untrack(Mean);
        TensorScope.Untrack(LogVar);
        TensorScope.Untrack(Std);
    }

    /// <summary>exp(logvar).</summary>
    public Tensor Variance() => Ops.Exp(LogVar);

    /// <summary>mean + std·noise with <paramref name="noise"/> ~ N(0, I) of the mean's shape (reparameterized: differentiable in the moments).</summary>
    public Tensor Sample(Tensor noise)
    {
        if (!Shapes.Equal(noise.Shape, Mean.Shape))
            throw new ArgumentException($"DiagonalGaussian.Sample: noise {Shapes.Str(noise.Shape)} does not have the mean's shape {Shapes.Str(Mean.Shape)}");
        using var scaled = Std * noise;
        return Mean + scaled;
    }

    /// <summary>mean + std·ε with ε drawn from <paramref name="generator"/>.</summary>
    public Tensor Sample(Generator generator)
    {
        using var noise = Tensor.RandN(generator, Mean.Shape);
        return Sample(noise);
    }

    /// <summary>The mode (= the mean), as a new tensor the caller owns.</summary>
    public Tensor Mode() => Mean * 1f;

    public void Dispose()
    {
        Mean.Dispose();
        LogVar.Dispose();
        Std.Dispose();
    }
}
