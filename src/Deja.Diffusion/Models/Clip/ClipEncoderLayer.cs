using Deja.Tensors;
using Deja.Tensors.Nn;

namespace Deja.Diffusion.Models.Clip;

/// <summary>
/// CLIPEncoderLayer, pre-norm: x += self_attn(layer_norm1(x)); x += mlp(layer_norm2(x)).
/// </summary>
public sealed class ClipEncoderLayer : Module
{
    public LayerNorm LayerNorm1 { get; }
    public ClipAttention SelfAttn { get; }
    public LayerNorm LayerNorm2 { get; }
    public ClipMlp Mlp { get; }

    public ClipEncoderLayer(IO.ClipTextConfig c, Generator init)
    {
        SelfAttn = Register("self_attn", new ClipAttention(c.HiddenSize, c.NumAttentionHeads, init));
        LayerNorm1 = Register("layer_norm1", new LayerNorm(c.HiddenSize, c.LayerNormEps));
        Mlp = Register("mlp", new ClipMlp(c.HiddenSize, c.IntermediateSize, c.HiddenAct, init));
        LayerNorm2 = Register("layer_norm2", new LayerNorm(c.HiddenSize, c.LayerNormEps));
    }

    /// <summary>x [B, L, H] → [B, L, H]; intermediates are freed as soon as the layer is done.</summary>
    public Tensor Forward(Tensor x)
    {
        using var scope = TensorScope.Enter();
        var attended = x + SelfAttn.Forward(LayerNorm1.Forward(x));
        var output = attended + Mlp.Forward(LayerNorm2.Forward(attended));
        return scope.Keep(output);
    }
}
