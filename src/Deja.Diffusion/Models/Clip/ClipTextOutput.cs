using Deja.Tensors;

namespace Deja.Diffusion.Models.Clip;

/// <summary>What <see cref="ClipTextModel"/> returns besides last_hidden_state.</summary>
public sealed record ClipTextOptions
{
    /// <summary>
    /// diffusers' clip_skip: use the output of layer L − ClipSkip (hidden_states[−(ClipSkip+1)]) and apply
    /// final_layer_norm to it. 0 is the plain model; the skipped layers are not computed.
    /// </summary>
    public int ClipSkip { get; init; }

    /// <summary>Return every hidden state: the embeddings, then each computed layer's output (before the final LayerNorm).</summary>
    public bool OutputHiddenStates { get; init; }

    /// <summary>
    /// Return pooler_output [B, H]: last_hidden_state at the end-of-text position (transformers' rule:
    /// argmax(ids) for legacy configs with eos_token_id 2, else the first id equal to eos_token_id).
    /// Needs token ids.
    /// </summary>
    public bool OutputPooler { get; init; }
}

/// <summary>
/// Outputs of a <see cref="ClipTextModel"/> forward. The caller owns the tensors (<see cref="Dispose"/> frees them all).
/// </summary>
/// <param name="LastHiddenState">[B, L, H] after final_layer_norm: the UNet's encoder_hidden_states.</param>
/// <param name="PoolerOutput">[B, H] when requested.</param>
/// <param name="HiddenStates">When requested: [0] = token + position embeddings, [i] = output of layer i (pre final LN), each [B, L, H].</param>
public sealed record ClipTextOutput(Tensor LastHiddenState, Tensor? PoolerOutput, IReadOnlyList<Tensor>? HiddenStates) : IDisposable
{
    public void Dispose()
    {
        LastHiddenState.Dispose();
        PoolerOutput?.Dispose();
        if (HiddenStates is not null)
            foreach (var h in HiddenStates) h.Dispose();
    }
}
