using Deja.Tensors;
using Deja.Tensors.Nn;

namespace Deja.Diffusion.Models.Clip;

/// <summary>
/// CLIPTextEmbeddings: token_embedding [vocab, H] and position_embedding [max_positions, H]. The
/// position ids are always 0..L−1 (transformers' position_ids buffer, which checkpoints do not store).
/// </summary>
public sealed class ClipTextEmbeddings : Module
{
    public Embedding TokenEmbedding { get; }
    public Embedding PositionEmbedding { get; }

    public ClipTextEmbeddings(IO.ClipTextConfig c, Generator init)
    {
        TokenEmbedding = Register("token_embedding", new Embedding(c.VocabSize, c.HiddenSize, init));
        PositionEmbedding = Register("position_embedding", new Embedding(c.MaxPositionEmbeddings, c.HiddenSize, init));
    }

    /// <summary>Token embeddings of ids already checked by the caller: [batch, length, H].</summary>
    public Tensor Tokens(int[] ids, int batch, int length) => TokenEmbedding.Forward(ids, batch, length);

    /// <summary>inputs_embeds [B, L, H] + position_embedding[0..L−1].</summary>
    public Tensor AddPositions(Tensor inputsEmbeds)
    {
        using var scope = TensorScope.Enter();
        var positions = Ops.Narrow(PositionEmbedding.Weight, 0, 0, inputsEmbeds.Shape[1]);
        return scope.Keep(inputsEmbeds + positions);
    }
}
