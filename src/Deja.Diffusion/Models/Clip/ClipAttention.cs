using Deja.Tensors;
using Deja.Tensors.Nn;

namespace Deja.Diffusion.Models.Clip;

/// <summary>
/// CLIPAttention as the text encoder uses it: multi-head causal self-attention with separate
/// q_proj/k_proj/v_proj/out_proj linears (each [H, H] with bias) and scale head_dim^-0.5.
/// </summary>
public sealed class ClipAttention : Module
{
    public int Heads { get; }
    public int HeadDim { get; }
    public Linear QProj { get; }
    public Linear KProj { get; }
    public Linear VProj { get; }
    public Linear OutProj { get; }

    public ClipAttention(int hidden, int heads, Generator init)
    {
        Heads = heads;
        HeadDim = hidden / heads;
        QProj = Register("q_proj", new Linear(hidden, hidden, init: init));
        KProj = Register("k_proj", new Linear(hidden, hidden, init: init));
        VProj = Register("v_proj", new Linear(hidden, hidden, init: init));
        OutProj = Register("out_proj", new Linear(hidden, hidden, init: init));
    }

    /// <summary>x [B, L, H] → [B, L, H]; query i attends to keys 0..i.</summary>
    public Tensor Forward(Tensor x)
    {
        int b = x.Shape[0], l = x.Shape[1], h = x.Shape[2];
        using var scope = TensorScope.Enter();
        var q = SplitHeads(QProj.Forward(x), b, l);
        var k = SplitHeads(KProj.Forward(x), b, l);
        var v = SplitHeads(VProj.Forward(x), b, l);
        var o = Ops.ScaledDotProductAttention(q, k, v, causal: true, scale: 1f / MathF.Sqrt(HeadDim));
        var merged = Ops.Reshape(Ops.Permute(o, 0, 2, 1, 3), b, l, h);
        return scope.Keep(OutProj.Forward(merged));
    }

    /// <summary>[B, L, heads·D] → [B, heads, L, D].</summary>
    Tensor SplitHeads(Tensor t, int b, int l) => Ops.Permute(Ops.Reshape(t, b, l, Heads, HeadDim), 0, 2, 1, 3);
}
