using Deja.Diffusion.IO;
using Deja.Tensors;
using Deja.Tensors.Nn;

namespace Deja.Diffusion.Models.Vae;

/// <summary>
/// diffusers' Encoder (double_z): conv_in, DownEncoderBlock2D per entry of block_out_channels, mid block,
/// GroupNorm + SiLU, conv_out to 2·latent_channels (mean and log-variance, before quant_conv).
/// </summary>
public sealed class VaeEncoder : Module
{
    public Conv2d ConvIn { get; }
    public ModuleList<DownEncoderBlock2D> DownBlocks { get; }
    public VaeMidBlock MidBlock { get; }
    public GroupNorm ConvNormOut { get; }
    public Conv2d ConvOut { get; }

    public VaeEncoder(AutoencoderKLConfig c, Generator init)
    {
        int n = c.BlockOutChannels.Length, groups = c.NormNumGroups, last = c.BlockOutChannels[^1];
        ConvIn = Register("conv_in", new Conv2d(c.InChannels, c.BlockOutChannels[0], 3, padding: 1, init: init));
        DownBlocks = Register("down_blocks", new ModuleList<DownEncoderBlock2D>());
        for (int i = 0; i < n; i++)
        {
            int input = i == 0 ? c.BlockOutChannels[0] : c.BlockOutChannels[i - 1];
            DownBlocks.Add(new DownEncoderBlock2D(input, c.BlockOutChannels[i], c.LayersPerBlock, downsample: i < n - 1, groups, AutoencoderKL.NormEps, init));
        }
        MidBlock = Register("mid_block", new VaeMidBlock(last, groups, AutoencoderKL.NormEps, init));
        ConvNormOut = Register("conv_norm_out", new GroupNorm(groups, last, AutoencoderKL.NormEps));
        ConvOut = Register("conv_out", new Conv2d(last, 2 * c.LatentChannels, 3, padding: 1, init: init));
    }

    internal Tensor Forward(Tensor image, Observe observe)
    {
        var h = observe.Child("conv_in").Report(ConvIn.Forward(image));
        for (int i = 0; i < DownBlocks.Count; i++)
            h = Intermediates.Release(h, DownBlocks[i].Forward(h, observe.Child("down_blocks", i)));
        h = Intermediates.Release(h, MidBlock.Forward(h, observe.Child("mid_block")));
        h = Intermediates.Release(h, ConvNormOut.ForwardSilu(h));
        return Intermediates.Release(h, observe.Child("conv_out").Report(ConvOut.Forward(h)));
    }

    public Tensor Forward(Tensor image) => Forward(image, Observe.None);
}
