using Deja.Tensors;

namespace Deja.Diffusion.Models.UNet;

/// <summary>
/// Receives a module's output during a UNet forward: its checkpoint path (e.g.
/// "down_blocks.0.attentions.0.proj_in") and the tensor. The tensor may be freed right after the
/// call (inference frees intermediates early): copy what you want to keep, and do not modify it.
/// Besides module outputs, each cross-attention layer (an attn2, with context) reports its post-softmax
/// probabilities averaged over the heads, [B, Lq, Lk], under "{attn2 path}.attention_probs" (e.g.
/// "down_blocks.0.attentions.0.transformer_blocks.0.attn2.attention_probs"), just before its output;
/// they are computed only when a hook is given.
/// </summary>
public delegate void UNetActivationCallback(string modulePath, Tensor output);

/// <summary>What every block of one forward shares: the conditioning, the hook and the profile.</summary>
internal sealed class UNetPass
{
    public UNetPass(Tensor timeEmbeddingActivated, Tensor context, UNetActivationCallback? hook, UNetProfile? profile)
    {
        TimeEmbeddingActivated = timeEmbeddingActivated;
        Context = context;
        Hook = hook;
        Profile = profile;
    }

    /// <summary>SiLU(time_embedding(t)), [B, T]: every resnet applies SiLU to the same embedding, so once is enough.</summary>
    public Tensor TimeEmbeddingActivated { get; }
    /// <summary>encoder_hidden_states [B, L, C]: the keys and values of cross-attention.</summary>
    public Tensor Context { get; }
    public UNetActivationCallback? Hook { get; }
    public UNetProfile? Profile { get; }

    /// <summary>
    /// Nothing is recorded for backward (NoGrad), so the forward may overwrite tensors it created
    /// (in-place residual adds) and take fused paths that have no backward.
    /// </summary>
    public bool Inference { get; } = !GradMode.IsEnabled;

    public UNetProfile.Timer Time(UNetOpKind kind) => UNetProfile.Time(Profile, kind);

    public void Emit(string path, Tensor output) => Hook?.Invoke(path, output);
}
