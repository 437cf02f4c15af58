using Deja.Tensors;
using Deja.Tensors.Nn;

namespace Deja.Diffusion.Models.Vae;

/// <summary>
/// The VAE mid-block attention (diffusers' Attention with group_norm, one head as wide as the
/// channels, residual connection): every one of the H·W positions attends to all others.
/// x + to_out(softmax(q·kᵀ/√C)·v) with q, k, v = to_q/to_k/to_v(GroupNorm(x)) over tokens [B, H·W, C].
/// </summary>
public sealed class VaeAttention : Module
{
    public int Channels { get; }
    public GroupNorm GroupNorm { get; }
    public Linear ToQ { get; }
    public Linear ToK { get; }
    public Linear ToV { get; }
    /// <summary>"to_out.0" (diffusers' to_out is [Linear, Dropout]; the dropout has no weights).</summary>
    public ModuleList<Linear> ToOut { get; }

    public VaeAttention(int channels, int groups, double eps, Generator init)
    {
        Channels = channels;
        GroupNorm = Register("group_norm", new GroupNorm(groups, channels, eps));
        ToQ = Register("to_q", new Linear(channels, channels, init: init));
        ToK = Register("to_k", new Linear(channels, channels, init: init));
        ToV = Register("to_v", new Linear(channels, channels, init: init));
        ToOut = Register("to_out", new ModuleList<Linear>([new Linear(channels, channels, init: init)]));
    }

    public Tensor Forward(Tensor x)
    {
        if (x.Rank != 4 || x.Shape[1] != Channels)
            throw new ArgumentException($"VAE attention: input must be [B,{Channels},H,W], got {Shapes.Str(x.Shape)}");
        int b = x.Shape[0], c = Channels, h = x.Shape[2], w = x.Shape[3], l = h * w;
        using var scope = TensorScope.Enter();
        var normed = GroupNorm.Forward(x);
        var tokens = Ops.Transpose(Ops.Reshape(normed, b, c, l), 1, 2); // [B, L, C]
        normed.Dispose();
        // one head: [B, 1, L, C]
        var q = Ops.Reshape(ToQ.Forward(tokens), b, 1, l, c);
        var k = Ops.Reshape(ToK.Forward(tokens), b, 1, l, c);
        var v = Ops.Reshape(ToV.Forward(tokens), b, 1, l, c);
        tokens.Dispose();
        var attended = Ops.ScaledDotProductAttention(q, k, v);
        q.Dispose(); k.Dispose(); v.Dispose();
        var projected = ToOut[0].Forward(Ops.Reshape(attended, b, l, c));
        attended.Dispose();
        var back = Ops.Reshape(Ops.Transpose(projected, 1, 2), b, c, h, w);
        projected.Dispose();
        return scope.Keep(Intermediates.AddInto(back, x));
    }
}
