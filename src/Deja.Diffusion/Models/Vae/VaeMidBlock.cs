using Deja.Tensors;
using Deja.Tensors.Nn;

namespace Deja.Diffusion.Models.Vae;

/// <summary>diffusers' UNetMidBlock2D without time embedding: resnet, attention, resnet at the lowest resolution.</summary>
public sealed class VaeMidBlock : Module
{
    public ModuleList<VaeResnetBlock> Resnets { get; }
    public ModuleList<VaeAttention> Attentions { get; }

    public VaeMidBlock(int channels, int groups, double eps, Generator init)
    {
        Resnets = Register("resnets", new ModuleList<VaeResnetBlock>());
        Attentions = Register("attentions", new ModuleList<VaeAttention>());
        Resnets.Add(new VaeResnetBlock(channels, channels, groups, eps, init));
        Attentions.Add(new VaeAttention(channels, groups, eps, init));
        Resnets.Add(new VaeResnetBlock(channels, channels, groups, eps, init));
    }

    internal Tensor Forward(Tensor x, Observe observe)
    {
        var h = observe.Child("resnets", 0).Report(Resnets[0].Forward(x));
        var a = observe.Child("attentions", 0).Report(Attentions[0].Forward(h));
        h.Dispose();
        h = observe.Child("resnets", 1).Report(Resnets[1].Forward(a));
        a.Dispose();
        return observe.Report(h);
    }

    public Tensor Forward(Tensor x) => Forward(x, Observe.None);
}
