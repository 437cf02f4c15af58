using Deja.Diffusion.IO;
using Deja.Tensors;
using Deja.Tensors.Nn;

namespace Deja.Diffusion.Models.Vae;

/// <summary>
/// diffusers' Decoder: conv_in from latent_channels, mid block, UpDecoderBlock2D per entry of
/// block_out_channels (reversed; layers_per_block + 1 resnets each), GroupNorm + SiLU, conv_out.
/// </summary>
public sealed class VaeDecoder : Module
{
    public Conv2d ConvIn { get; }
    public VaeMidBlock MidBlock { get; }
    public ModuleList<UpDecoderBlock2D> UpBlocks { get; }
    public GroupNorm ConvNormOut { get; }
    public Conv2d ConvOut { get; }

    public VaeDecoder(AutoencoderKLConfig c, Generator init)
    {
        int n = c.BlockOutChannels.Length, groups = c.NormNumGroups, last = c.BlockOutChannels[^1];
        ConvIn = Register("conv_in", new Conv2d(c.LatentChannels, last, 3, padding: 1, init: init));
        MidBlock = Register("mid_block", new VaeMidBlock(last, groups, AutoencoderKL.NormEps, init));
        UpBlocks = Register("up_blocks", new ModuleList<UpDecoderBlock2D>());
        int previous = last;
        for (int i = 0; i < n; i++)
        {
            int output = c.BlockOutChannels[n - 1 - i];
            UpBlocks.Add(new UpDecoderBlock2D(previous, output, c.LayersPerBlock + 1, upsample: i < n - 1, groups, AutoencoderKL.NormEps, init));
            previous = output;
        }
        ConvNormOut = Register("conv_norm_out", new GroupNorm(groups, c.BlockOutChannels[0], AutoencoderKL.NormEps));
        ConvOut = Register("conv_out", new Conv2d(c.BlockOutChannels[0], c.OutChannels, 3, padding: 1, init: init));
    }

    internal Tensor Forward(Tensor z, Observe observe)
    {
        var h = observe.Child("conv_in").Report(ConvIn.Forward(z));
        h = Intermediates.Release(h, MidBlock.Forward(h, observe.Child("mid_block")));
        for (int i = 0; i < UpBlocks.Count; i++)
            h = Intermediates.Release(h, UpBlocks[i].Forward(h, observe.Child("up_blocks", i)));
        h = Intermediates.Release(h, ConvNormOut.ForwardSilu(h));
        return Intermediates.Release(h, observe.Child("conv_out").Report(ConvOut.Forward(h)));
    }

    public Tensor Forward(Tensor z) => Forward(z, Observe.None);
}
