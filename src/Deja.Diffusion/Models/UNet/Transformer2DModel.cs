using Deja.Tensors;
using Deja.Tensors.Nn;

namespace Deja.Diffusion.Models.UNet;

/// <summary>
/// diffusers' Transformer2DModel for continuous inputs (SD1/SD2): GroupNorm (eps 1e-6) → proj_in →
/// tokens [B, H·W, C] → transformer_blocks → proj_out → back to [B,C,H,W] → + input.
/// proj_in/proj_out are 1×1 convs (SD1) or Linear layers (SD2, use_linear_projection); both are the
/// same per-pixel matrix, so one code path serves both and only the parameter shapes differ.
/// </summary>
public sealed class Transformer2DModel : Module
{
    readonly GroupNorm norm;
    readonly Tensor projInWeight, projOutWeight;
    readonly Tensor? projInBias, projOutBias;
    readonly ModuleList<BasicTransformerBlock> blocks;

    public Transformer2DModel(string path, int channels, int heads, int contextDim, int layers, bool linearProjection, int groups, Generator init)
    {
        if (heads <= 0 || channels % heads != 0)
            throw new ArgumentException($"{path}: {channels} channels cannot be split into {heads} attention heads");
        Path = path;
        LinearProjection = linearProjection;
        norm = Register("norm", new GroupNorm(groups, channels, 1e-6));
        (projInWeight, projInBias) = Projection("proj_in", channels, linearProjection, init);
        blocks = Register("transformer_blocks", new ModuleList<BasicTransformerBlock>(
            Enumerable.Range(0, layers).Select(k => new BasicTransformerBlock($"{path}.transformer_blocks.{k}", channels, heads, channels / heads, contextDim, init))));
        (projOutWeight, projOutBias) = Projection("proj_out", channels, linearProjection, init);
    }

    public string Path { get; }
    public bool LinearProjection { get; }

    (Tensor Weight, Tensor? Bias) Projection(string name, int channels, bool linear, Generator init)
    {
        if (linear)
        {
            var l = Register(name, new Linear(channels, channels, bias: true, init));
            return (l.Weight, l.Bias);
        }
        var c = Register(name, new Conv2d(channels, channels, 1, init: init));
        return (c.Weight, c.Bias);
    }

    /// <summary>x [B,C,H,W] → x + transformer(x), [B,C,H,W].</summary>
    internal Tensor Forward(Tensor x, UNetPass pass)
    {
        using var scope = TensorScope.Enter();
        Tensor normed;
        using (pass.Time(UNetOpKind.GroupNorm)) normed = norm.Forward(x);
        var tokens = UNetOps.PixelsToTokens(normed, projInWeight, projInBias, pass);
        normed.Dispose();
        if (pass.Hook is not null) EmitProjIn(tokens, x.Shape, pass);
        foreach (var block in blocks) tokens = block.Forward(tokens, pass);
        var y = UNetOps.TokensToPixelsPlus(tokens, projOutWeight, projOutBias, x, pass);
        pass.Emit(Path, y);
        return scope.Keep(y);
    }

    /// <summary>proj_in's own output layout: pixels [B,C,H,W] for the conv (SD1), tokens for the Linear (SD2).</summary>
    void EmitProjIn(Tensor tokens, int[] shape, UNetPass pass)
    {
        if (LinearProjection) { pass.Emit(Path + ".proj_in", tokens); return; }
        using var t4 = Ops.Reshape(tokens, shape[0], shape[2], shape[3], shape[1]);
        using var pixels = Ops.Permute(t4, 0, 3, 1, 2);
        pass.Emit(Path + ".proj_in", pixels);
    }
}
