using Deja.Tensors;
using Deja.Tensors.Nn;

namespace Deja.Diffusion.Models.Vae;

/// <summary>diffusers' DownEncoderBlock2D: resnets, then (except in the last block) a 2× downsampler.</summary>
public sealed class DownEncoderBlock2D : Module
{
    public ModuleList<VaeResnetBlock> Resnets { get; }
    /// <summary>Empty in the last block (diffusers then has no "downsamplers" keys at all).</summary>
    public ModuleList<Downsample2D>? Downsamplers { get; }

    public DownEncoderBlock2D(int inChannels, int outChannels, int layers, bool downsample, int groups, double eps, Generator init)
    {
        Resnets = Register("resnets", new ModuleList<VaeResnetBlock>());
        for (int j = 0; j < layers; j++) Resnets.Add(new VaeResnetBlock(j == 0 ? inChannels : outChannels, outChannels, groups, eps, init));
        if (downsample) Downsamplers = Register("downsamplers", new ModuleList<Downsample2D>([new Downsample2D(outChannels, init)]));
    }

    internal Tensor Forward(Tensor x, Observe observe)
    {
        var h = x;
        for (int j = 0; j < Resnets.Count; j++)
            h = Intermediates.Release(h, observe.Child("resnets", j).Report(Resnets[j].Forward(h)), callerOwned: x);
        if (Downsamplers is not null)
            h = Intermediates.Release(h, observe.Child("downsamplers", 0).Report(Downsamplers[0].Forward(h)), callerOwned: x);
        return observe.Report(h);
    }
}
