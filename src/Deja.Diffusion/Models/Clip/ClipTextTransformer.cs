using Deja.Tensors;
using Deja.Tensors.Nn;

namespace Deja.Diffusion.Models.Clip;

/// <summary>CLIPTextTransformer's modules ("text_model.*" keys); the forward lives in <see cref="ClipTextModel"/>.</summary>
public sealed class ClipTextTransformer : Module
{
    public ClipTextEmbeddings Embeddings { get; }
    public ClipEncoder Encoder { get; }
    public LayerNorm FinalLayerNorm { get; }

    public ClipTextTransformer(IO.ClipTextConfig c, Generator init)
    {
        Embeddings = Register("embeddings", new ClipTextEmbeddings(c, init));
        Encoder = Register("encoder", new ClipEncoder(c, init));
        FinalLayerNorm = Register("final_layer_norm", new LayerNorm(c.HiddenSize, c.LayerNormEps));
    }
}

/// <summary>CLIPEncoder: the stack of layers ("encoder.layers.{i}").</summary>
public sealed class ClipEncoder : Module
{
    public ModuleList<ClipEncoderLayer> Layers { get; }

    public ClipEncoder(IO.ClipTextConfig c, Generator init)
    {
        Layers = Register("layers", new ModuleList<ClipEncoderLayer>());
        for (int i = 0; i < c.NumHiddenLayers; i++) Layers.Add(new ClipEncoderLayer(c, init));
    }
}
