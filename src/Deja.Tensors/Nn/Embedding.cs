namespace Deja.Tensors.Nn;

/// <summary>nn.Embedding: a lookup table weight [num, dim] (parameter "weight"), initialized N(0, 1) as in PyTorch.</summary>
public sealed class Embedding : Module
{
    public Tensor Weight { get; }

    public Embedding(int numEmbeddings, int dim, Generator? init = null)
    {
        Weight = Parameter("weight", Init.Normal(init, numEmbeddings, dim));
    }

    /// <summary>Rows for <paramref name="ids"/>, shaped [..idsShape, dim] (idsShape defaults to [ids.Length]).</summary>
    public Tensor Forward(int[] ids, params int[] idsShape) => Ops.Embedding(Weight, ids, idsShape);

    /// <summary>Rows for a tensor of whole-number ids: [..ids.Shape, dim].</summary>
    public Tensor Forward(Tensor ids) => Ops.Embedding(Weight, ids);
}
