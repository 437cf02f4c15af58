using Deja.Tensors;
using Deja.Tensors.Nn;

namespace Deja.Diffusion.Models.UNet;

/// <summary>diffusers' Downsample2D with a conv: 3×3, stride 2, padding 1 (H → ⌈H/2⌉).</summary>
public sealed class Downsample2D : Module
{
    readonly Conv2d conv;

    public Downsample2D(int channels, int padding, Generator init)
    {
        if (padding != 1)
            throw new DejaException($"Downsample2D: downsample_padding {padding} is not supported (supported: 1)");
        conv = Register("conv", new Conv2d(channels, channels, 3, 2, padding, init: init));
    }

    internal Tensor Forward(Tensor x, UNetPass pass)
    {
        using var _ = pass.Time(UNetOpKind.Conv);
        return conv.Forward(x);
    }
}

/// <summary>
/// diffusers' Upsample2D with a conv: nearest-neighbour 2× upsampling, then a 3×3 conv (padding 1).
/// With an output size (the skip connection's size when the input was odd-sized, diffusers'
/// forward_upsample_size) the result is F.interpolate(size=...): for a target of 2H − 1 that is the
/// 2× upsampling without its last row, since nearest picks source ⌊i·H/(2H−1)⌋ = ⌊i/2⌋ for every i &lt; 2H − 1.
/// In inference the plain 2× case never builds the upsampled image (<see cref="UpsampleConv"/>).
/// </summary>
public sealed class Upsample2D : Module
{
    readonly Conv2d conv;

    public Upsample2D(int channels, Generator init) => conv = Register("conv", new Conv2d(channels, channels, 3, 1, 1, init: init));

    internal Tensor Forward(Tensor x, (int H, int W)? outputSize, UNetPass pass)
    {
        int h = x.Shape[2], w = x.Shape[3];
        bool twice = outputSize is null || outputSize == (2 * h, 2 * w);
        if (pass.Inference && twice && x.Shape[1] == conv.Weight.Shape[1] && h * w >= UpsampleConv.MinPlane)
            return UpsampleConv.Forward(x, conv.Weight, conv.Bias, pass);
        using var scope = TensorScope.Enter();
        Tensor up;
        using (pass.Time(UNetOpKind.Layout))
        {
            up = Ops.UpsampleNearest2x(x);
            if (outputSize is (int oh, int ow))
            {
                if ((oh != 2 * h && oh != 2 * h - 1) || (ow != 2 * w && ow != 2 * w - 1))
                    throw new ArgumentException($"Upsample2D: input {Shapes.Str(x.Shape)} cannot be upsampled to {oh}x{ow} (2x or 2x-1 per side)");
                if (oh != 2 * h) up = Ops.Narrow(up, 2, 0, oh);
                if (ow != 2 * w) up = Ops.Narrow(up, 3, 0, ow);
            }
        }
        using (pass.Time(UNetOpKind.Conv)) return scope.Keep(conv.Forward(up));
    }
}
