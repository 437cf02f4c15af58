using Deja.Tensors;
using Deja.Tensors.Nn;

namespace Deja.Diffusion.Models.Vae;

/// <summary>diffusers' Upsample2D with a convolution: nearest-neighbour 2× enlargement, then a 3×3 convolution.</summary>
public sealed class Upsample2D : Module
{
    public Conv2d Conv { get; }

    public Upsample2D(int channels, Generator init)
    {
        Conv = Register("conv", new Conv2d(channels, channels, 3, padding: 1, init: init));
    }

    public Tensor Forward(Tensor x)
    {
        using var enlarged = Ops.UpsampleNearest2x(x);
        return Conv.Forward(enlarged);
    }
}
