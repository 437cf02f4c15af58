using System.Globalization;
using Deja.Diffusion.IO;

namespace Deja.Diffusion.Tests.Clip;

/// <summary>Small CLIP text configs for tests with random weights.</summary>
public static class ClipTextConfigs
{
    public static ClipTextConfig Tiny(string act = "quick_gelu", int vocab = 20, int hidden = 8, int heads = 2, int layers = 2,
                                      int intermediate = 12, int positions = 6, int eos = 2) =>
        ClipTextConfig.Parse(string.Create(CultureInfo.InvariantCulture,
            $$"""
            {"vocab_size": {{vocab}}, "hidden_size": {{hidden}}, "num_attention_heads": {{heads}}, "num_hidden_layers": {{layers}},
             "intermediate_size": {{intermediate}}, "max_position_embeddings": {{positions}}, "hidden_act": "{{act}}", "eos_token_id": {{eos}}}
            """), "test config");
}
