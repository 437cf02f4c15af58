using Deja.Tensors;
using Deja.Tensors.Nn;

namespace Deja.Diffusion.Models.UNet;

/// <summary>What the blocks are built from: one UNet level's settings, taken from the config.</summary>
internal readonly record struct LevelSettings(int Groups, double Eps, float Dropout, int TimeEmbedDim, int Heads, int ContextDim,
    int TransformerLayers, bool LinearProjection)
{
    public ResnetBlock2D Resnet(string path, int inChannels, int outChannels, Generator init) =>
        new(path, inChannels, outChannels, TimeEmbedDim, Groups, Eps, Dropout, init);

    public Transformer2DModel Transformer(string path, int channels, Generator init) =>
        new(path, channels, Heads, ContextDim, TransformerLayers, LinearProjection, Groups, init);
}

/// <summary>
/// CrossAttnDownBlock2D (with attentions) or DownBlock2D (without): per layer a resnet (then a
/// transformer), each layer's output kept as a skip connection, then an optional stride-2 downsampler
/// whose output is a skip too.
/// </summary>
public sealed class UNetDownBlock : Module
{
    readonly ModuleList<ResnetBlock2D> resnets;
    readonly ModuleList<Transformer2DModel>? attentions;
    readonly ModuleList<Downsample2D>? downsamplers;

    internal UNetDownBlock(string path, int inChannels, int outChannels, int layers, bool crossAttention, bool downsample, int downsamplePadding,
        LevelSettings level, Generator init)
    {
        Path = path;
        resnets = Register("resnets", new ModuleList<ResnetBlock2D>());
        if (crossAttention) attentions = Register("attentions", new ModuleList<Transformer2DModel>());
        for (int j = 0; j < layers; j++)
        {
            resnets.Add(level.Resnet($"{path}.resnets.{j}", j == 0 ? inChannels : outChannels, outChannels, init));
            attentions?.Add(level.Transformer($"{path}.attentions.{j}", outChannels, init));
        }
        if (downsample) downsamplers = Register("downsamplers", new ModuleList<Downsample2D>([new Downsample2D(outChannels, downsamplePadding, init)]));
    }

    public string Path { get; }
    public int SkipCount => resnets.Count + (downsamplers is null ? 0 : 1);

    /// <summary>Runs the block on <paramref name="x"/> (not modified) and appends its skip connections to <paramref name="skips"/>.</summary>
    internal Tensor Forward(Tensor x, UNetPass pass, List<Tensor> skips)
    {
        using var scope = TensorScope.Enter();
        var h = x;
        for (int j = 0; j < resnets.Count; j++)
        {
            // each layer's output is a skip connection and stays; only the resnet output before a transformer goes
            var layer = resnets[j].Forward(h, pass);
            if (attentions is not null) layer = Replace(layer, attentions[j].Forward(layer, pass), x);
            skips.Add(scope.Keep(h = layer));
        }
        if (downsamplers is not null) skips.Add(scope.Keep(h = downsamplers[0].Forward(h, pass)));
        pass.Emit(Path, h);
        return h;
    }

    /// <summary>Frees an intermediate as soon as its successor exists (never the block input).</summary>
    internal static Tensor Replace(Tensor old, Tensor next, Tensor input)
    {
        if (!ReferenceEquals(old, input)) old.Dispose();
        return next;
    }
}

/// <summary>UNetMidBlock2DCrossAttn: resnet → transformer → resnet at the lowest resolution.</summary>
public sealed class UNetMidBlock : Module
{
    readonly ModuleList<ResnetBlock2D> resnets;
    readonly ModuleList<Transformer2DModel> attentions;

    internal UNetMidBlock(string path, int channels, LevelSettings level, Generator init)
    {
        Path = path;
        resnets = Register("resnets", new ModuleList<ResnetBlock2D>());
        attentions = Register("attentions", new ModuleList<Transformer2DModel>());
        resnets.Add(level.Resnet($"{path}.resnets.0", channels, channels, init));
        attentions.Add(level.Transformer($"{path}.attentions.0", channels, init));
        resnets.Add(level.Resnet($"{path}.resnets.1", channels, channels, init));
    }

    public string Path { get; }

    internal Tensor Forward(Tensor x, UNetPass pass)
    {
        using var scope = TensorScope.Enter();
        var h = resnets[0].Forward(x, pass);
        h = UNetDownBlock.Replace(h, attentions[0].Forward(h, pass), x);
        h = UNetDownBlock.Replace(h, resnets[1].Forward(h, pass), x);
        pass.Emit(Path, h);
        return scope.Keep(h);
    }
}

/// <summary>
/// CrossAttnUpBlock2D (with attentions) or UpBlock2D (without): per layer the running features are
/// concatenated (along channels, features first) with the most recent remaining skip connection, then a
/// resnet (then a transformer); finally an optional upsampler.
/// </summary>
public sealed class UNetUpBlock : Module
{
    readonly ModuleList<ResnetBlock2D> resnets;
    readonly ModuleList<Transformer2DModel>? attentions;
    readonly ModuleList<Upsample2D>? upsamplers;

    /// <param name="skipChannels">Channels of the skip each layer consumes, in layer order.</param>
    internal UNetUpBlock(string path, int previousChannels, int outChannels, int[] skipChannels, bool crossAttention, bool upsample,
        LevelSettings level, Generator init)
    {
        Path = path;
        resnets = Register("resnets", new ModuleList<ResnetBlock2D>());
        if (crossAttention) attentions = Register("attentions", new ModuleList<Transformer2DModel>());
        for (int j = 0; j < skipChannels.Length; j++)
        {
            resnets.Add(level.Resnet($"{path}.resnets.{j}", (j == 0 ? previousChannels : outChannels) + skipChannels[j], outChannels, init));
            attentions?.Add(level.Transformer($"{path}.attentions.{j}", outChannels, init));
        }
        if (upsample) upsamplers = Register("upsamplers", new ModuleList<Upsample2D>([new Upsample2D(outChannels, init)]));
    }

    public string Path { get; }
    public int SkipCount => resnets.Count;

    /// <summary>
    /// Runs the block on <paramref name="x"/> (not modified), consuming (and freeing) its skips from
    /// the end of <paramref name="skips"/>; <paramref name="upsampleSize"/> is the size the upsampler
    /// must produce when it is not simply twice the input.
    /// </summary>
    internal Tensor Forward(Tensor x, UNetPass pass, List<Tensor> skips, (int H, int W)? upsampleSize)
    {
        using var scope = TensorScope.Enter();
        var h = x;
        for (int j = 0; j < resnets.Count; j++)
        {
            var skip = skips[^1];
            skips.RemoveAt(skips.Count - 1);
            Tensor joined;
            using (pass.Time(UNetOpKind.Layout)) joined = Ops.Concat([h, skip], 1);
            skip.Dispose();
            h = UNetDownBlock.Replace(h, joined, x);
            h = UNetDownBlock.Replace(h, resnets[j].Forward(h, pass), x);
            if (attentions is not null) h = UNetDownBlock.Replace(h, attentions[j].Forward(h, pass), x);
        }
        if (upsamplers is not null) h = UNetDownBlock.Replace(h, upsamplers[0].Forward(h, upsampleSize, pass), x);
        pass.Emit(Path, h);
        return scope.Keep(h);
    }
}
