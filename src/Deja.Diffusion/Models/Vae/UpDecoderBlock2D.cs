using Deja.Tensors;
using Deja.Tensors.Nn;

namespace Deja.Diffusion.Models.Vae;

/// <summary>diffusers' UpDecoderBlock2D: resnets, then (except in the last block) a 2× upsampler.</summary>
public sealed class UpDecoderBlock2D : Module
{
    public ModuleList<VaeResnetBlock> Resnets { get; }
    public ModuleList<Upsample2D>? Upsamplers { get; }

    public UpDecoderBlock2D(int inChannels, int outChannels, int layers, bool upsample, int groups, double eps, Generator init)
    {
        Resnets = Register("resnets", new ModuleList<VaeResnetBlock>());
        for (int j = 0; j < layers; j++) Resnets.Add(new VaeResnetBlock(j == 0 ? inChannels : outChannels, outChannels, groups, eps, init));
        if (upsample) Upsamplers = Register("upsamplers", new ModuleList<Upsample2D>([new Upsample2D(outChannels, init)]));
    }

    internal Tensor Forward(Tensor x, Observe observe)
    {
        var h = x;
        for (int j = 0; j < Resnets.Count; j++)
            h = Intermediates.Release(h, observe.Child("resnets", j).Report(Resnets[j].Forward(h)), callerOwned: x);
        if (Upsamplers is not null)
            h = Intermediates.Release(h, observe.Child("upsamplers", 0).Report(Upsamplers[0].Forward(h)), callerOwned: x);
        return observe.Report(h);
    }
}
