using Deja.Diffusion.IO;

namespace Deja.Diffusion.Training;

/// <summary>
/// Architectures of the models Deja trains itself: Stable Diffusion's UNet2DConditionModel and CLIP
/// text encoder, scaled down and working in pixel space (a VAE's 8× reduction would leave 32×32 images
/// with 4×4 latents; in pixel space, memorization is checked on the pixels themselves). The text
/// encoder keeps the real CLIP vocabulary so that the real tokenizer, and every prompt file, work.
/// </summary>
public sealed record MiniConfig(string Name, string UNetJson, string TextJson)
{
    /// <summary>The UNet's config, parsed from <see cref="UNetJson"/> (which is also what a saved model's unet/config.json holds).</summary>
    public UNet2DConditionConfig UNet { get; } = UNet2DConditionConfig.Parse(UNetJson, "mini unet config");
    public ClipTextConfig Text { get; } = ClipTextConfig.Parse(TextJson, "mini text encoder config");

    public int ImageSize => UNet.SampleSize ?? 32;
    public int Channels => UNet.InChannels;

    public static IReadOnlyList<string> Names { get; } = ["mini", "toy"];

    public static MiniConfig Get(string name) => name.Trim().ToLowerInvariant() switch
    {
        "mini" => Mini(),
        "toy" => Toy(),
        _ => throw new ArgumentException($"unknown model config '{name}' (use {string.Join(" or ", Names)})"),
    };

    /// <summary>
    /// deja-mini: 32×32 RGB, channels 32/64/128, attention (self and cross) at 16² and 8² only — at 32²
    /// the 1024-token self-attention took most of a training step — and text width 64.
    /// </summary>
    public static MiniConfig Mini() => new("mini", UNetConfig(32, [32, 64, 128], heads: 4, context: 64, groups: 8,
        down: ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"], up: ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"]),
        TextConfig(hidden: 64, layers: 2, heads: 4, intermediate: 128));

    /// <summary>A toy for tests: 16×16 RGB, channels 16/32, one cross-attention level, text width 32.</summary>
    public static MiniConfig Toy() => new("toy", UNetConfig(16, [16, 32], heads: 2, context: 32, groups: 8,
        down: ["CrossAttnDownBlock2D", "DownBlock2D"], up: ["UpBlock2D", "CrossAttnUpBlock2D"]),
        TextConfig(hidden: 32, layers: 1, heads: 2, intermediate: 64));

    static string List(IEnumerable<string> items) => string.Join(", ", items);

    static string UNetConfig(int size, int[] channels, int heads, int context, int groups, string[] down, string[] up) =>
        $$"""
        {
          "_class_name": "UNet2DConditionModel",
          "_diffusers_version": "0.25.1",
          "sample_size": {{size}},
          "in_channels": 3,
          "out_channels": 3,
          "down_block_types": [{{List(down.Select(d => $"\"{d}\""))}}],
          "up_block_types": [{{List(up.Select(u => $"\"{u}\""))}}],
          "mid_block_type": "UNetMidBlock2DCrossAttn",
          "block_out_channels": [{{List(channels.Select(c => c.ToString()))}}],
          "layers_per_block": 1,
          "attention_head_dim": {{heads}},
          "cross_attention_dim": {{context}},
          "norm_num_groups": {{groups}},
          "act_fn": "silu",
          "flip_sin_to_cos": true,
          "freq_shift": 0
        }
        """;

    static string TextConfig(int hidden, int layers, int heads, int intermediate) => $$"""
        {
          "architectures": ["CLIPTextModel"],
          "model_type": "clip_text_model",
          "vocab_size": 49408,
          "hidden_size": {{hidden}},
          "intermediate_size": {{intermediate}},
          "projection_dim": {{hidden}},
          "num_hidden_layers": {{layers}},
          "num_attention_heads": {{heads}},
          "max_position_embeddings": 77,
          "hidden_act": "quick_gelu",
          "layer_norm_eps": 1e-05,
          "bos_token_id": 49406,
          "eos_token_id": 49407,
          "pad_token_id": 49407
        }
        """;
}
