using Deja.Tensors;
using Deja.Tensors.Nn;

namespace Deja.Diffusion.Models.UNet;

/// <summary>
/// diffusers' ResnetBlock2D as SD uses it: h = conv1(SiLU(norm1(x))) + time_emb_proj(SiLU(temb));
/// h = conv2(dropout(SiLU(norm2(h)))); out = shortcut(x) + h, where the shortcut is a 1×1 conv when
/// the channel count changes (output_scale_factor 1, time scale-shift "default").
/// </summary>
public sealed class ResnetBlock2D : Module
{
    readonly GroupNorm norm1, norm2;
    readonly Conv2d conv1, conv2;
    readonly Conv2d? convShortcut;
    readonly Linear timeEmbProj;
    readonly Dropout dropout;

    public ResnetBlock2D(string path, int inChannels, int outChannels, int timeEmbedDim, int groups, double eps, float dropoutP, Generator init)
    {
        Path = path;
        norm1 = Register("norm1", new GroupNorm(groups, inChannels, eps));
        conv1 = Register("conv1", new Conv2d(inChannels, outChannels, 3, 1, 1, init: init));
        timeEmbProj = Register("time_emb_proj", new Linear(timeEmbedDim, outChannels, bias: true, init));
        norm2 = Register("norm2", new GroupNorm(groups, outChannels, eps));
        dropout = new Dropout(dropoutP, init);
        conv2 = Register("conv2", new Conv2d(outChannels, outChannels, 3, 1, 1, init: init));
        if (inChannels != outChannels) convShortcut = Register("conv_shortcut", new Conv2d(inChannels, outChannels, 1, init: init));
    }

    public string Path { get; }

    internal Tensor Forward(Tensor x, UNetPass pass)
    {
        using var scope = TensorScope.Enter();
        Tensor h, t;
        using (pass.Time(UNetOpKind.GroupNorm)) h = norm1.ForwardSilu(x);
        using (pass.Time(UNetOpKind.Conv)) h = conv1.Forward(h);
        using (pass.Time(UNetOpKind.Linear)) t = timeEmbProj.Forward(pass.TimeEmbeddingActivated);
        h = UNetOps.AddPerChannel(h, t, pass);
        using (pass.Time(UNetOpKind.GroupNorm)) h = norm2.ForwardSilu(h);
        if (dropout.P > 0 && Training) h = dropout.Forward(h);
        using (pass.Time(UNetOpKind.Conv)) h = conv2.Forward(h);
        var shortcut = x;
        if (convShortcut is not null)
            using (pass.Time(UNetOpKind.Conv)) shortcut = convShortcut.Forward(x);
        var y = UNetOps.AddOwned(h, shortcut, pass);
        pass.Emit(Path, y);
        return scope.Keep(y);
    }
}
