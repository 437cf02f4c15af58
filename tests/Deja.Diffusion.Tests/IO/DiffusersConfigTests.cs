using Deja.Diffusion.IO;
using Deja.Tensors;

namespace Deja.Diffusion.Tests.IO;

public class DiffusersConfigTests
{
    static string Config(string pipeline, string component, string file = "config.json") => TestData.Golden(pipeline, component, file);

    [Fact]
    public void TinySd1Configs()
    {
        var unet = UNet2DConditionConfig.Load(Config("tiny-sd1", "unet"));
        Assert.Equal(16, unet.SampleSize);
        Assert.Equal((4, 4), (unet.InChannels, unet.OutChannels));
        Assert.Equal([32, 64], unet.BlockOutChannels);
        Assert.Equal(["CrossAttnDownBlock2D", "DownBlock2D"], unet.DownBlockTypes);
        Assert.Equal(["UpBlock2D", "CrossAttnUpBlock2D"], unet.UpBlockTypes);
        Assert.Equal("UNetMidBlock2DCrossAttn", unet.MidBlockType);
        Assert.Equal([2, 2], unet.LayersPerBlock);
        Assert.Equal([32, 32], unet.CrossAttentionDim);
        Assert.Equal([8, 8], unet.AttentionHeadDim);
        Assert.False(unet.AttentionHeadDimIsList);
        Assert.Null(unet.NumAttentionHeads);
        Assert.Equal([8, 8], unet.HeadsPerBlock);
        Assert.Equal([1, 1], unet.TransformerLayersPerBlock);
        Assert.False(unet.UseLinearProjection);
        Assert.False(unet.UpcastAttention);
        Assert.Equal(8, unet.NormNumGroups);
        Assert.Equal(1e-5, unet.NormEps);
        Assert.True(unet.FlipSinToCos);
        Assert.Equal(0, unet.FreqShift);
        Assert.Equal("silu", unet.ActFn);
        Assert.Equal(128, unet.TimeEmbedDim);
        Assert.Equal((3, 3), (unet.ConvInKernel, unet.ConvOutKernel));
        Assert.Equal("default", unet.ResnetTimeScaleShift);
        Assert.Equal("positional", unet.TimeEmbeddingType);
        Assert.Null(unet.ClassEmbedType);
        Assert.Null(unet.NumClassEmbeds);
        Assert.Empty(unet.Problems());
        // Keys without a property stay readable.
        Assert.True(unet.TryGetRaw("addition_embed_type_num_heads", out var extra));
        Assert.Equal(64, extra.GetInt32());
        Assert.Contains("addition_embed_type_num_heads", unet.UnmodeledKeys());

        var text = ClipTextConfig.Load(Config("tiny-sd1", "text_encoder"));
        Assert.Equal((32, 37, 4, 4), (text.HiddenSize, text.IntermediateSize, text.NumHiddenLayers, text.NumAttentionHeads));
        Assert.Equal((49408, 77, 32), (text.VocabSize, text.MaxPositionEmbeddings, text.ProjectionDim));
        Assert.Equal("quick_gelu", text.HiddenAct);
        Assert.Equal(1e-5, text.LayerNormEps);
        Assert.Equal((0, 2, 1), (text.BosTokenId, text.EosTokenId, text.PadTokenId));
        Assert.Equal(8, text.HeadDim);
        Assert.Empty(text.Problems());

        var vae = AutoencoderKLConfig.Load(Config("tiny-sd1", "vae"));
        Assert.Equal([16, 32, 32], vae.BlockOutChannels);
        Assert.Equal(Enumerable.Repeat("DownEncoderBlock2D", 3), vae.DownBlockTypes);
        Assert.Equal(Enumerable.Repeat("UpDecoderBlock2D", 3), vae.UpBlockTypes);
        Assert.Equal((2, 4, 8, 64), (vae.LayersPerBlock, vae.LatentChannels, vae.NormNumGroups, vae.SampleSize));
        Assert.Equal((3, 3), (vae.InChannels, vae.OutChannels));
        Assert.Equal(0.18215, vae.ScalingFactor);
        Assert.True(vae.ForceUpcast);
        Assert.Equal(4, vae.DownsampleFactor);
        Assert.Empty(vae.Problems());

        var scheduler = DdimSchedulerConfig.Load(Config("tiny-sd1", "scheduler", "scheduler_config.json"));
        Assert.Equal("DDIMScheduler", scheduler.ClassName);
        Assert.Equal(1000, scheduler.NumTrainTimesteps);
        Assert.Equal((0.00085, 0.012), (scheduler.BetaStart, scheduler.BetaEnd));
        Assert.Equal("scaled_linear", scheduler.BetaSchedule);
        Assert.Null(scheduler.TrainedBetas);
        Assert.Equal("epsilon", scheduler.PredictionType);
        Assert.False(scheduler.IsVPrediction);
        Assert.False(scheduler.ClipSample);
        Assert.False(scheduler.SetAlphaToOne);
        Assert.Equal(1, scheduler.StepsOffset);
        Assert.Equal("leading", scheduler.TimestepSpacing);
        Assert.Empty(scheduler.Problems());
    }

    [Fact]
    public void TinySd2Configs()
    {
        var unet = UNet2DConditionConfig.Load(Config("tiny-sd2", "unet"));
        Assert.Equal([16, 32], unet.BlockOutChannels);
        Assert.Equal([2, 4], unet.AttentionHeadDim);
        Assert.True(unet.AttentionHeadDimIsList);
        Assert.Equal([2, 4], unet.HeadsPerBlock); // head dim 16/2 = 32/4 = 8
        Assert.Equal([16, 16], unet.CrossAttentionDim);
        Assert.True(unet.UseLinearProjection);
        Assert.True(unet.UpcastAttention);
        Assert.Equal(64, unet.TimeEmbedDim);
        Assert.Empty(unet.Problems());

        var text = ClipTextConfig.Load(Config("tiny-sd2", "text_encoder"));
        Assert.Equal((16, 40, 3, 2), (text.HiddenSize, text.IntermediateSize, text.NumHiddenLayers, text.NumAttentionHeads));
        Assert.Equal("gelu", text.HiddenAct);
        Assert.Empty(text.Problems());

        var scheduler = DdimSchedulerConfig.Load(Config("tiny-sd2", "scheduler", "scheduler_config.json"));
        Assert.Equal("v_prediction", scheduler.PredictionType);
        Assert.True(scheduler.IsVPrediction);
        Assert.Empty(scheduler.Problems());
    }

    [Fact]
    public void EmptyConfigsTakeTheLibraryDefaults()
    {
        var unet = UNet2DConditionConfig.Parse("{}");
        Assert.Equal([320, 640, 1280, 1280], unet.BlockOutChannels);
        Assert.Equal([1280, 1280, 1280, 1280], unet.CrossAttentionDim);
        Assert.Equal([8, 8, 8, 8], unet.HeadsPerBlock);
        Assert.Equal(32, unet.NormNumGroups);
        Assert.Equal(1280, unet.TimeEmbedDim);
        Assert.Empty(unet.Problems());

        var scheduler = DdimSchedulerConfig.Parse("{}");
        Assert.Equal(("linear", 0.0001, 0.02), (scheduler.BetaSchedule, scheduler.BetaStart, scheduler.BetaEnd));
        Assert.True(scheduler.ClipSample);
        Assert.True(scheduler.SetAlphaToOne);
        Assert.Equal(0, scheduler.StepsOffset);
        Assert.Equal("leading", scheduler.TimestepSpacing);

        var text = ClipTextConfig.Parse("{}");
        Assert.Equal((512, 12, 8, "quick_gelu"), (text.HiddenSize, text.NumHiddenLayers, text.NumAttentionHeads, text.HiddenAct));
        var vae = AutoencoderKLConfig.Parse("{}");
        Assert.Equal([64], vae.BlockOutChannels);
        Assert.Equal(0.18215, vae.ScalingFactor);
    }

    [Fact]
    public void RealSdConfigsParse()
    {
        // Key parts of stabilityai/stable-diffusion-2-1's unet config and runwayml SD1.5's PNDM scheduler config.
        var sd2 = UNet2DConditionConfig.Parse("""
            {"_class_name": "UNet2DConditionModel", "attention_head_dim": [5, 10, 20, 20], "block_out_channels": [320, 640, 1280, 1280],
             "cross_attention_dim": 1024, "sample_size": 96, "use_linear_projection": true, "upcast_attention": true,
             "dual_cross_attention": false, "num_class_embeds": null, "only_cross_attention": false}
            """);
        Assert.Equal([5, 10, 20, 20], sd2.HeadsPerBlock);
        Assert.Equal([1024, 1024, 1024, 1024], sd2.CrossAttentionDim);
        Assert.Empty(sd2.Problems());
        Assert.Equal(686, CheckpointLayout.UNet(sd2).Count);

        var pndm = DdimSchedulerConfig.Parse("""
            {"_class_name": "PNDMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear", "beta_start": 0.00085,
             "num_train_timesteps": 1000, "set_alpha_to_one": false, "skip_prk_steps": true, "steps_offset": 1, "trained_betas": null,
             "clip_sample": false}
            """);
        Assert.Equal("PNDMScheduler", pndm.ClassName);
        Assert.Equal("epsilon", pndm.PredictionType);
        Assert.Empty(pndm.Problems());
        Assert.Contains("skip_prk_steps", pndm.UnmodeledKeys());
    }

    /// <summary>JSON numbers beyond double's range parse as infinity; a setting must be finite (found while fixing the fuzzer's 1e999 crash).</summary>
    [Fact]
    public void NumbersBeyondDoubleRangeAreRefused()
    {
        var e = Assert.Throws<DejaException>(() => ClipTextConfig.Parse("""{"layer_norm_eps": 1e999}""", "te.json"));
        Assert.Contains("te.json: 'layer_norm_eps' must be a finite number, found 1e999", e.Message);
        e = Assert.Throws<DejaException>(() => DdimSchedulerConfig.Parse("""{"trained_betas": [0.1, -1e999]}""", "s.json"));
        Assert.Contains("'trained_betas' must be a list of finite numbers", e.Message);
    }

    [Fact]
    public void WrongTypesAndBadJsonNameTheFileAndKey()
    {
        var e = Assert.Throws<DejaException>(() => UNet2DConditionConfig.Parse("""{"layers_per_block": "two"}""", "my/unet/config.json"));
        Assert.Contains("my/unet/config.json", e.Message);
        Assert.Contains("'layers_per_block' must be an integer or a list of integers, found \"two\"", e.Message);

        e = Assert.Throws<DejaException>(() => ClipTextConfig.Parse("""{"hidden_size": 3.5}""", "te.json"));
        Assert.Contains("'hidden_size' must be an integer", e.Message);

        e = Assert.Throws<DejaException>(() => DdimSchedulerConfig.Parse("""{"beta_start": 0.1,""", "s.json"));
        Assert.Contains("s.json: not valid JSON", e.Message);

        e = Assert.Throws<DejaException>(() => AutoencoderKLConfig.Parse("[1]", "v.json"));
        Assert.Contains("must be a JSON object", e.Message);
    }

    [Fact]
    public void UnsupportedSettingsAreReportedWithWhatIsSupported()
    {
        var unet = UNet2DConditionConfig.Parse("""
            {"down_block_types": ["AttnDownBlock2D", "DownBlock2D"], "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
             "block_out_channels": [32, 64], "act_fn": "gelu", "layers_per_block": [2, 2, 2], "norm_num_groups": 8, "attention_head_dim": 8}
            """, "unet/config.json");
        var p = unet.Problems();
        Assert.Contains(p, m => m.Contains("down_block_types[0] 'AttnDownBlock2D' is not supported (supported: CrossAttnDownBlock2D, DownBlock2D)"));
        Assert.Contains(p, m => m.Contains("act_fn 'gelu' is not supported (supported: silu)"));
        Assert.Contains(p, m => m.Contains("layers_per_block has 3 entries but there are 2 down blocks"));
        var e = Assert.Throws<DejaException>(unet.Validate);
        Assert.Contains("3 unsupported settings", e.Message);

        var mid = UNet2DConditionConfig.Parse("""{"mid_block_type": "UNetMidBlock2DSimpleCrossAttn"}""");
        Assert.Contains(mid.Problems(), m => m.Contains("mid_block_type 'UNetMidBlock2DSimpleCrossAttn' is not supported (supported: UNetMidBlock2DCrossAttn)"));

        var vae = AutoencoderKLConfig.Parse("""{"down_block_types": ["DownEncoderBlock2D", "AttnDownEncoderBlock2D"], "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"], "block_out_channels": [32, 64]}""");
        Assert.Contains(vae.Problems(), m => m.Contains("down_block_types[1] 'AttnDownEncoderBlock2D' is not supported (supported: DownEncoderBlock2D)"));

        var scheduler = DdimSchedulerConfig.Parse("""{"_class_name": "HeunScheduler", "prediction_type": "sample", "timestep_spacing": "karras"}""");
        var sp = scheduler.Problems();
        Assert.Contains(sp, m => m.Contains("scheduler class 'HeunScheduler' is not supported (supported: DDIMScheduler, PNDMScheduler"));
        Assert.Contains(sp, m => m.Contains("prediction_type 'sample' is not supported (supported: epsilon, v_prediction)"));
        Assert.Contains(sp, m => m.Contains("timestep_spacing 'karras' is not supported"));

        var text = ClipTextConfig.Parse("""{"hidden_act": "relu", "hidden_size": 30, "num_attention_heads": 4}""");
        Assert.Contains(text.Problems(), m => m.Contains("hidden_act 'relu' is not supported (supported: quick_gelu, gelu)"));
        Assert.Contains(text.Problems(), m => m.Contains("hidden_size 30 cannot be split into 4 attention heads"));
    }

    [Fact]
    public void ModelIndexComponents()
    {
        var index = ModelIndex.Load(TestData.Golden("tiny-sd1", "model_index.json"));
        Assert.Equal("StableDiffusionPipeline", index.ClassName);
        Assert.Equal("0.25.1", index.DiffusersVersion);
        Assert.Equal(new ComponentSpec("unet", "diffusers", "UNet2DConditionModel"), index.Components["unet"]);
        Assert.Equal("CLIPTextModel", index.Components["text_encoder"].ClassName);
        Assert.True(index.Components["safety_checker"].IsAbsent);
        Assert.False(index.Components.ContainsKey("requires_safety_checker"));
    }
}
