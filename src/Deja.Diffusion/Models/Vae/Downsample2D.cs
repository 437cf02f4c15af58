using Deja.Tensors;
using Deja.Tensors.Nn;

namespace Deja.Diffusion.Models.Vae;

/// <summary>
/// diffusers' Downsample2D with a convolution and padding 0: the input is padded by one zero row at the
/// bottom and one zero column at the right, then a 3×3 stride-2 convolution halves the size.
/// </summary>
public sealed class Downsample2D : Module
{
    public Conv2d Conv { get; }

    public Downsample2D(int channels, Generator init)
    {
        Conv = Register("conv", new Conv2d(channels, channels, 3, stride: 2, padding: 0, init: init));
    }

    public Tensor Forward(Tensor x)
    {
        using var padded = ZeroPad2d.Pad(x, left: 0, right: 1, top: 0, bottom: 1);
        return Conv.Forward(padded);
    }
}
