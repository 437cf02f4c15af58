using Deja.Diffusion.IO;

namespace Deja.Diffusion.Models.UNet;

/// <summary>The full-size UNet configs of Stable Diffusion, as their unet/config.json files state them.</summary>
public static class UNetPresets
{
    /// <summary>CompVis/stable-diffusion-v1-4: 320/640/1280/1280 channels, 8 heads, context 768, 64×64 latents.</summary>
    public static UNet2DConditionConfig StableDiffusion1() => UNet2DConditionConfig.Parse("""
        {
          "_class_name": "UNet2DConditionModel",
          "act_fn": "silu",
          "attention_head_dim": 8,
          "block_out_channels": [320, 640, 1280, 1280],
          "center_input_sample": false,
          "cross_attention_dim": 768,
          "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
          "downsample_padding": 1,
          "flip_sin_to_cos": true,
          "freq_shift": 0,
          "in_channels": 4,
          "layers_per_block": 2,
          "mid_block_scale_factor": 1,
          "norm_eps": 1e-05,
          "norm_num_groups": 32,
          "out_channels": 4,
          "sample_size": 64,
          "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]
        }
        """, "preset sd1 unet/config.json");

    /// <summary>stabilityai/stable-diffusion-2-1: heads [5,10,20,20] (head dim 64), linear projections, context 1024, 96×96 latents.</summary>
    public static UNet2DConditionConfig StableDiffusion2() => UNet2DConditionConfig.Parse("""
        {
          "_class_name": "UNet2DConditionModel",
          "act_fn": "silu",
          "attention_head_dim": [5, 10, 20, 20],
          "block_out_channels": [320, 640, 1280, 1280],
          "center_input_sample": false,
          "cross_attention_dim": 1024,
          "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
          "downsample_padding": 1,
          "dual_cross_attention": false,
          "flip_sin_to_cos": true,
          "freq_shift": 0,
          "in_channels": 4,
          "layers_per_block": 2,
          "mid_block_scale_factor": 1,
          "norm_eps": 1e-05,
          "norm_num_groups": 32,
          "num_class_embeds": null,
          "only_cross_attention": false,
          "out_channels": 4,
          "sample_size": 96,
          "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
          "upcast_attention": true,
          "use_linear_projection": true
        }
        """, "preset sd2 unet/config.json");
}
