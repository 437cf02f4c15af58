using Deja.Diffusion.IO;
using Deja.Diffusion.Models.Vae;
using Deja.Diffusion.Tests.IO;
using Deja.Tensors;
using static Deja.Diffusion.Tests.Vae.VaeTestSupport;

namespace Deja.Diffusion.Tests.Vae;

/// <summary>Key layout, strict loading and the legacy attention names.</summary>
public class VaeCheckpointTests
{
    [Fact]
    public void StateDictIsTheCheckpointLayout()
    {
        foreach (var config in new[] { AutoencoderKLConfig.Load(ConfigPath("sd1")), Micro(), Sd1Config() })
        {
            var expected = CheckpointLayout.Vae(config).ToDictionary(i => i.Name, i => i.Shape);
            var actual = new AutoencoderKL(config).StateDict();
            Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
            foreach (var (name, shape) in expected) Assert.True(Shapes.Equal(shape, actual[name].Shape), name);
        }
        using var file = SafeTensorsFile.Open(WeightsPath("sd1"));
        Assert.Equal(CheckpointLayout.Vae(AutoencoderKLConfig.Load(ConfigPath("sd1"))).Select(i => i.Name).Order(), file.Names.Order());
    }

    /// <summary>Stable Diffusion 1.x's vae/config.json (weights not needed).</summary>
    internal static AutoencoderKLConfig Sd1Config() => AutoencoderKLConfig.Parse("""
        {"_class_name": "AutoencoderKL", "act_fn": "silu", "block_out_channels": [128, 256, 512, 512],
         "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
         "in_channels": 3, "latent_channels": 4, "layers_per_block": 2, "norm_num_groups": 32, "out_channels": 3,
         "sample_size": 512, "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"]}
        """, "sd1 vae config");

    [Fact]
    public void LegacyAttentionNamesLoadIncludingConvShapedWeights()
    {
        var reference = LoadTiny("sd1");
        using var dir = new TempDir();
        var path = dir.File("legacy.safetensors");
        var renamed = new List<(string, Tensor)>();
        int conv = 0;
        foreach (var (key, t) in reference.StateDict())
        {
            var legacy = VaeCheckpoint.LegacyName(key);
            if (legacy is null) { renamed.Add((key, t)); continue; }
            // the encoder's projections stored as 1×1 convolutions, the decoder's as linear weights
            bool asConv = t.Rank == 2 && key.StartsWith("encoder.", StringComparison.Ordinal);
            renamed.Add((legacy, asConv ? Tensor.FromArray(t.ReadOnlySpan, t.Shape[0], t.Shape[1], 1, 1) : t));
            if (asConv) conv++;
        }
        Assert.Equal(4, conv);
        SafeTensorsWriter.Write(path, renamed);
        using (var file = SafeTensorsFile.Open(path))
        {
            Assert.Contains("encoder.mid_block.attentions.0.query.weight", file.Names);
            Assert.Contains("decoder.mid_block.attentions.0.proj_attn.bias", file.Names);
            Assert.DoesNotContain(file.Names, n => n.Contains(".to_q.", StringComparison.Ordinal));
        }

        var loaded = AutoencoderKL.Load(reference.Config, path);
        var want = reference.StateDict();
        foreach (var (key, t) in loaded.StateDict()) Assert.Equal(want[key].ToArray(), t.ToArray());
    }

    [Fact]
    public void LegacyNameMapsOnlyMidBlockAttentionProjections()
    {
        Assert.Equal("decoder.mid_block.attentions.0.query.weight", VaeCheckpoint.LegacyName("decoder.mid_block.attentions.0.to_q.weight"));
        Assert.Equal("encoder.mid_block.attentions.0.proj_attn.bias", VaeCheckpoint.LegacyName("encoder.mid_block.attentions.0.to_out.0.bias"));
        Assert.Null(VaeCheckpoint.LegacyName("encoder.mid_block.attentions.0.group_norm.weight"));
        Assert.Null(VaeCheckpoint.LegacyName("decoder.up_blocks.0.resnets.0.conv1.weight"));
    }

    [Fact]
    public void StrictLoadNamesMissingUnexpectedAndMisshapenTensors()
    {
        var reference = LoadTiny("sd2");
        var state = reference.StateDict();
        using var dir = new TempDir();

        string Fails(IEnumerable<(string, Tensor)> tensors)
        {
            var path = dir.File(Guid.NewGuid().ToString("N") + ".safetensors");
            SafeTensorsWriter.Write(path, tensors);
            return Assert.Throws<DejaException>(() => AutoencoderKL.Load(reference.Config, path)).Message;
        }

        var missing = Fails(state.Where(p => p.Key != "decoder.conv_out.bias").Select(p => (p.Key, p.Value)));
        Assert.Contains("missing tensor 'decoder.conv_out.bias'", missing);

        using var extra = Tensor.Zeros(3);
        var unexpected = Fails([.. state.Select(p => (p.Key, p.Value)), ("decoder.conv_out.extra", extra)]);
        Assert.Contains("unexpected tensor 'decoder.conv_out.extra'", unexpected);

        using var wrong = Tensor.Zeros(4, 4, 3, 3);
        var misshapen = Fails(state.Select(p => (p.Key, p.Key == "post_quant_conv.weight" ? wrong : p.Value)));
        Assert.Contains("'post_quant_conv.weight'", misshapen);
        Assert.Contains("[4,4,3,3]", misshapen);

        // a legacy 1×1-conv weight with the wrong channel count is a shape error, not silently reshaped
        var bad = Tensor.Zeros(32, 16, 1, 1);
        var legacyWrong = Fails(state.Select(p => p.Key == "decoder.mid_block.attentions.0.to_k.weight"
            ? ("decoder.mid_block.attentions.0.key.weight", bad) : (p.Key, p.Value)));
        Assert.Contains("decoder.mid_block.attentions.0.key.weight", legacyWrong);
    }

    [Fact]
    public void UnsupportedConfigIsRejected()
    {
        var config = Micro() with { MidBlockAddAttention = false };
        var e = Assert.Throws<DejaException>(() => new AutoencoderKL(config));
        Assert.Contains("mid_block_add_attention", e.Message);
    }

    [Fact]
    public void BadInputsNameTheMethodAndShape()
    {
        var vae = new AutoencoderKL(Micro());
        using var _ = GradMode.NoGrad();
        using var image = Tensor.Zeros(1, 4, 8, 8);
        var e = Assert.Throws<ArgumentException>(() => vae.Encode(image));
        Assert.Contains("AutoencoderKL.Encode", e.Message);
        Assert.Contains("[1,4,8,8]", e.Message);
        using var latents = Tensor.Zeros(1, 3, 4, 4);
        e = Assert.Throws<ArgumentException>(() => vae.Decode(latents));
        Assert.Contains("AutoencoderKL.Decode", e.Message);
        using var noise = Tensor.Zeros(1, 4, 3, 3);
        using var good = Tensor.Zeros(1, 3, 8, 8);
        e = Assert.Throws<ArgumentException>(() => vae.EncodeScaled(good, noise));
        Assert.Contains("noise", e.Message);
    }
}
