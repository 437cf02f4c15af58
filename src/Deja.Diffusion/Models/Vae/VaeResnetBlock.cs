using Deja.Tensors;
using Deja.Tensors.Nn;

namespace Deja.Diffusion.Models.Vae;

/// <summary>
/// diffusers' ResnetBlock2D as the VAE uses it (no time embedding, output scale 1):
/// out = shortcut(x) + conv2(SiLU(norm2(conv1(SiLU(norm1(x)))))), with a 1×1 conv_shortcut when the
/// channel count changes. Dropout is 0 in every SD VAE and therefore omitted.
/// </summary>
public sealed class VaeResnetBlock : Module
{
    public GroupNorm Norm1 { get; }
    public Conv2d Conv1 { get; }
    public GroupNorm Norm2 { get; }
    public Conv2d Conv2 { get; }
    public Conv2d? ConvShortcut { get; }

    public VaeResnetBlock(int inChannels, int outChannels, int groups, double eps, Generator init)
    {
        Norm1 = Register("norm1", new GroupNorm(groups, inChannels, eps));
        Conv1 = Register("conv1", new Conv2d(inChannels, outChannels, 3, padding: 1, init: init));
        Norm2 = Register("norm2", new GroupNorm(groups, outChannels, eps));
        Conv2 = Register("conv2", new Conv2d(outChannels, outChannels, 3, padding: 1, init: init));
        if (inChannels != outChannels) ConvShortcut = Register("conv_shortcut", new Conv2d(inChannels, outChannels, 1, init: init));
    }

    /// <summary>The block's output; <paramref name="x"/> stays the caller's.</summary>
    public Tensor Forward(Tensor x)
    {
        // Each intermediate is released as soon as the next one exists (a recorded graph keeps
        // what it needs), so at most two full-size activations besides x are alive at a time.
        using var scope = TensorScope.Enter();
        var a = Norm1.ForwardSilu(x);
        var h = Intermediates.Release(a, Conv1.Forward(a));
        a = Intermediates.Release(h, Norm2.ForwardSilu(h));
        h = Intermediates.Release(a, Conv2.Forward(a));
        if (ConvShortcut is null) return scope.Keep(Intermediates.AddInto(h, x));
        using var shortcut = ConvShortcut.Forward(x);
        return scope.Keep(Intermediates.AddInto(h, shortcut));
    }
}
