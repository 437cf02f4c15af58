using System.Text;
using Deja.Diffusion.IO;
using Deja.Tensors;

namespace Deja.Memorization.Fuzzing;

/// <summary>
/// A complete Stable Diffusion pipeline folder in the diffusers layout, small enough to load thousands
/// of times a minute: a 1-layer text encoder of width 16, a 2-block UNet of 8/16 channels, a 2-block VAE,
/// a DDIM scheduler and <see cref="MicroTokenizer"/>. Configs carry every field diffusers writes for
/// these settings; weights are seeded random values.
/// </summary>
internal static class MicroPipeline
{
    public const string ModelIndex = """
        {
          "_class_name": "StableDiffusionPipeline",
          "_diffusers_version": "0.25.1",
          "feature_extractor": [null, null],
          "requires_safety_checker": false,
          "safety_checker": [null, null],
          "scheduler": ["diffusers", "DDIMScheduler"],
          "text_encoder": ["transformers", "CLIPTextModel"],
          "tokenizer": ["transformers", "CLIPTokenizer"],
          "unet": ["diffusers", "UNet2DConditionModel"],
          "vae": ["diffusers", "AutoencoderKL"]
        }
        """;

    public const string UNetConfig = """
        {
          "_class_name": "UNet2DConditionModel",
          "_diffusers_version": "0.25.1",
          "act_fn": "silu",
          "attention_head_dim": 2,
          "block_out_channels": [8, 16],
          "center_input_sample": false,
          "cross_attention_dim": 16,
          "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
          "downsample_padding": 1,
          "flip_sin_to_cos": true,
          "freq_shift": 0,
          "in_channels": 4,
          "layers_per_block": 1,
          "mid_block_scale_factor": 1,
          "mid_block_type": "UNetMidBlock2DCrossAttn",
          "norm_eps": 1e-05,
          "norm_num_groups": 4,
          "out_channels": 4,
          "sample_size": 8,
          "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
          "use_linear_projection": false
        }
        """;

    public const string VaeConfig = """
        {
          "_class_name": "AutoencoderKL",
          "_diffusers_version": "0.25.1",
          "act_fn": "silu",
          "block_out_channels": [8, 8],
          "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"],
          "in_channels": 3,
          "latent_channels": 4,
          "layers_per_block": 1,
          "norm_num_groups": 4,
          "out_channels": 3,
          "sample_size": 16,
          "scaling_factor": 0.18215,
          "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"]
        }
        """;

    public const string SchedulerConfig = """
        {
          "_class_name": "DDIMScheduler",
          "_diffusers_version": "0.25.1",
          "beta_end": 0.012,
          "beta_schedule": "scaled_linear",
          "beta_start": 0.00085,
          "clip_sample": false,
          "num_train_timesteps": 1000,
          "prediction_type": "epsilon",
          "set_alpha_to_one": false,
          "steps_offset": 1,
          "timestep_spacing": "leading",
          "trained_betas": null
        }
        """;

    static string TextEncoderConfig(int vocabSize) => $$"""
        {
          "architectures": ["CLIPTextModel"],
          "attention_dropout": 0.0,
          "bos_token_id": 0,
          "eos_token_id": 2,
          "hidden_act": "quick_gelu",
          "hidden_size": 16,
          "intermediate_size": 32,
          "layer_norm_eps": 1e-05,
          "max_position_embeddings": 77,
          "model_type": "clip_text_model",
          "num_attention_heads": 2,
          "num_hidden_layers": 1,
          "pad_token_id": 1,
          "projection_dim": 16,
          "torch_dtype": "float32",
          "vocab_size": {{vocabSize}}
        }
        """;

    /// <summary>Writes the folder; returns the config texts by relative path (the fuzz seeds of the config targets).</summary>
    public static Dictionary<string, string> Write(string folder)
    {
        MicroTokenizer.Write(Path.Combine(folder, "tokenizer"));
        var configs = new Dictionary<string, string>
        {
            ["model_index.json"] = ModelIndex,
            ["text_encoder/config.json"] = TextEncoderConfig(MicroTokenizer.VocabularySize(Path.Combine(folder, "tokenizer"))),
            ["unet/config.json"] = UNetConfig,
            ["vae/config.json"] = VaeConfig,
            ["scheduler/scheduler_config.json"] = SchedulerConfig,
        };
        foreach (var (name, text) in configs)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(folder, name))!);
            File.WriteAllText(Path.Combine(folder, name), text, new UTF8Encoding(false));
        }
        var generator = new Generator(1234);
        WriteWeights(Path.Combine(folder, "text_encoder", "model.safetensors"),
                     CheckpointLayout.ClipText(ClipTextConfig.Parse(configs["text_encoder/config.json"])), generator);
        WriteWeights(Path.Combine(folder, "unet", "diffusion_pytorch_model.safetensors"), CheckpointLayout.UNet(UNet2DConditionConfig.Parse(UNetConfig)), generator);
        WriteWeights(Path.Combine(folder, "vae", "diffusion_pytorch_model.safetensors"), CheckpointLayout.Vae(AutoencoderKLConfig.Parse(VaeConfig)), generator);
        return configs;
    }

    static void WriteWeights(string path, List<CheckpointLayout.Item> layout, Generator generator)
    {
        var tensors = layout.Select(item => (item.Name, Tensor.RandN(generator, item.Shape) * 0.05f)).ToList();
        try { SafeTensorsWriter.Write(path, tensors, new Dictionary<string, string> { ["format"] = "pt" }); }
        finally { foreach (var (_, t) in tensors) t.Dispose(); }
    }
}
