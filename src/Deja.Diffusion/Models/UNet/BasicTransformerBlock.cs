using Deja.Tensors;
using Deja.Tensors.Nn;

namespace Deja.Diffusion.Models.UNet;

/// <summary>
/// diffusers' BasicTransformerBlock with layer norms (SD1/SD2): x += attn1(norm1(x));
/// x += attn2(norm2(x), context); x += ff(norm3(x)). LayerNorm eps 1e-5, on tokens [B, L, C].
/// </summary>
public sealed class BasicTransformerBlock : Module
{
    readonly LayerNorm norm1, norm2, norm3;
    readonly CrossAttention attn1, attn2;
    readonly FeedForward ff;

    public BasicTransformerBlock(string path, int dim, int heads, int headDim, int contextDim, Generator init)
    {
        Path = path;
        norm1 = Register("norm1", new LayerNorm(dim, 1e-5));
        attn1 = Register("attn1", new CrossAttention(path + ".attn1", dim, dim, heads, headDim, init));
        norm2 = Register("norm2", new LayerNorm(dim, 1e-5));
        attn2 = Register("attn2", new CrossAttention(path + ".attn2", dim, contextDim, heads, headDim, init));
        norm3 = Register("norm3", new LayerNorm(dim, 1e-5));
        ff = Register("ff", new FeedForward(path + ".ff", dim, 4, init));
    }

    public string Path { get; }

    /// <summary>
    /// tokens [B, L, C] → [B, L, C]. Inference: <paramref name="x"/> is updated in place and returned,
    /// so it must be a tensor the caller owns.
    /// </summary>
    internal Tensor Forward(Tensor x, UNetPass pass)
    {
        using var scope = TensorScope.Enter();
        var h = x;
        var n = Norm(norm1, h, pass);
        h = pass.Hook is null ? attn1.ForwardPlus(n, null, h, pass) : Hooked(attn1.Forward(n, null, pass), h, attn1.Path, pass);
        n = Norm(norm2, h, pass);
        h = pass.Hook is null ? attn2.ForwardPlus(n, pass.Context, h, pass) : Hooked(attn2.Forward(n, pass.Context, pass), h, attn2.Path, pass);
        n = Norm(norm3, h, pass);
        h = pass.Hook is null ? ff.ForwardPlus(n, h, pass) : Hooked(ff.Forward(n, pass), h, ff.Path, pass);
        pass.Emit(Path, h);
        return scope.Keep(h);
    }

    static Tensor Norm(LayerNorm norm, Tensor x, UNetPass pass)
    {
        using var _ = pass.Time(UNetOpKind.LayerNorm);
        return norm.Forward(x);
    }

    /// <summary>With a hook the sublayer outputs are wanted on their own, so the residual add is separate.</summary>
    static Tensor Hooked(Tensor output, Tensor residual, string path, UNetPass pass)
    {
        pass.Emit(path, output);
        return UNetOps.AddOwned(output, residual, pass);
    }
}
