using Deja.Diffusion.IO;
using Deja.Diffusion.Models.UNet;
using Deja.Diffusion.Tests.IO;
using Deja.Tensors;

namespace Deja.Diffusion.Tests.UNet;

/// <summary>Checkpoint keys, strict loading, bad input and odd-sized latents.</summary>
public class UNetStructureTests
{
    static void AssertStateDictIsLayout(UNet2DConditionModel model, UNet2DConditionConfig config)
    {
        var expected = CheckpointLayout.UNet(config).ToDictionary(i => i.Name, i => i.Shape);
        var actual = model.StateDict();
        Assert.Empty(expected.Keys.Except(actual.Keys));
        Assert.Empty(actual.Keys.Except(expected.Keys));
        foreach (var (name, shape) in expected)
            Assert.True(shape.SequenceEqual(actual[name].Shape), $"{name}: layout {Shapes.Str(shape)}, model {Shapes.Str(actual[name].Shape)}");
    }

    [Theory]
    [InlineData("sd1")]
    [InlineData("sd2")]
    public void TinyStateDictEqualsCheckpointLayoutAndFile(string model)
    {
        var config = TinyUNet.Config(model);
        var unet = TinyUNet.Load(model);
        AssertStateDictIsLayout(unet, config);
        using var f = SafeTensorsFile.Open(TinyUNet.WeightsPath(model));
        Assert.Equal(f.Names.Order(), unet.StateDict().Keys.Order());
    }

    [Fact]
    public void TinySd1HasTheDiffusersKeyNames()
    {
        var keys = TinyUNet.Load("sd1").StateDict().Keys.ToHashSet();
        foreach (var k in new[]
        {
            "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight",
            "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_out.0.weight",
            "down_blocks.0.attentions.0.transformer_blocks.0.ff.net.0.proj.weight",
            "down_blocks.0.attentions.0.transformer_blocks.0.ff.net.2.weight",
            "time_embedding.linear_1.weight", "mid_block.resnets.1.conv2.bias", "up_blocks.0.upsamplers.0.conv.weight",
            "up_blocks.1.resnets.2.conv_shortcut.weight", "conv_norm_out.weight",
        })
            Assert.Contains(k, keys);
    }

    [Fact]
    public void FullSizeStateDictsEqualCheckpointLayout()
    {
        foreach (var config in new[] { UNetPresets.StableDiffusion1(), UNetPresets.StableDiffusion2() })
        {
            var unet = new UNet2DConditionModel(config);
            try
            {
                AssertStateDictIsLayout(unet, config);
                Assert.Equal(config.UseLinearProjection ? 865_910_724 : 859_520_964, unet.ParameterCount());
            }
            finally
            {
                foreach (var p in unet.Parameters()) p.Dispose();
            }
        }
    }

    [Fact]
    public void LoadingIsStrict()
    {
        var config = TinyUNet.Config("sd1");
        using var dir = new TempDir();
        using var f = SafeTensorsFile.Open(TinyUNet.WeightsPath("sd1"));
        var all = f.ReadTensors();
        try
        {
            string Write(string name, IEnumerable<(string, Tensor)> tensors)
            {
                var path = dir.File(name);
                SafeTensorsWriter.Write(path, tensors);
                return path;
            }
            const string key = "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight";
            var missing = Write("missing.safetensors", all.Where(p => p.Key != key).Select(p => (p.Key, p.Value)));
            var extra = Write("extra.safetensors", all.Select(p => (p.Key, p.Value)).Append(("mid_block.attentions.0.bogus.weight", Tensor.Zeros(3))));
            var reshaped = Write("shape.safetensors", all.Select(p => (p.Key, p.Key == key ? Tensor.Zeros(32, 31) : p.Value)));

            foreach (var (path, needle) in new[] { (missing, key), (extra, "mid_block.attentions.0.bogus.weight"), (reshaped, key) })
            {
                var unet = new UNet2DConditionModel(config);
                using var file = SafeTensorsFile.Open(path);
                var e = Assert.Throws<DejaException>(() => file.LoadModule(unet));
                Assert.Contains(needle, e.Message);
            }
        }
        finally
        {
            foreach (var t in all.Values) t.Dispose();
        }
    }

    [Fact]
    public void BadInputsAreRejectedWithTheirShapes()
    {
        var unet = TinyUNet.Load("sd1");
        using var scope = TensorScope.Enter();
        using var _ = GradMode.NoGrad();
        var sample = Tensor.Zeros(2, 4, 16, 16);
        var context = Tensor.Zeros(2, 77, 32);
        void Bad(Action a, string part)
        {
            var e = Assert.Throws<ArgumentException>(a);
            Assert.Contains("UNet2DConditionModel", e.Message);
            Assert.Contains(part, e.Message);
        }
        Bad(() => unet.Forward(Tensor.Zeros(2, 3, 16, 16), 1, context), "[2,3,16,16]");
        Bad(() => unet.Forward(Tensor.Zeros(4, 16, 16), 1, context), "[4,16,16]");
        Bad(() => unet.Forward(sample, 1, Tensor.Zeros(1, 77, 32)), "[1,77,32]");
        Bad(() => unet.Forward(sample, 1, Tensor.Zeros(2, 77, 16)), "[2,77,16]");
        Bad(() => unet.Forward(sample, [1f, 2f, 3f], context), "3 timesteps");
        Bad(() => unet.Forward(sample, Tensor.Zeros(2, 1), context), "[2,1]");
    }

    [Fact]
    public void UnsupportedConfigsAreRejected()
    {
        var config = TinyUNet.Config("sd1");
        var e = Assert.Throws<DejaException>(() => new UNet2DConditionModel(config with { ResnetOutScaleFactor = 2 }));
        Assert.Contains("resnet_out_scale_factor", e.Message);
        e = Assert.Throws<DejaException>(() => new UNet2DConditionModel(config with { DownBlockTypes = ["SimpleCrossAttnDownBlock2D", "DownBlock2D"] }));
        Assert.Contains("SimpleCrossAttnDownBlock2D", e.Message);
    }

    [Theory]
    [InlineData(15, 13)]
    [InlineData(9, 16)]
    [InlineData(1, 1)]
    public void OddSizedLatentsFollowTheSkipSizes(int h, int w)
    {
        var unet = TinyUNet.Load("sd1");
        using var g = TinyUNet.Golden("sd1");
        using var scope = TensorScope.Enter();
        var context = g.ReadTensor("encoder_hidden_states");
        var sample = Tensor.RandN(new Generator(3), 2, 4, h, w);
        Tensor fused;
        using (GradMode.NoGrad()) fused = unet.Forward(sample, 41, context);
        Assert.Equal([2, 4, h, w], fused.Shape);
        Assert.True(fused.ToArray().All(float.IsFinite));
        var recorded = unet.Forward(sample.RequireGrad(), 41, context);
        TinyUNet.Near(fused, recorded, 5e-6, "inference vs autograd path");
    }

    /// <summary>With an identity conv, Upsample2D with an output size is nearest interpolation to that size (PyTorch's index rule).</summary>
    [Theory]
    [InlineData(3, 4, 5, 8)]
    [InlineData(4, 3, 8, 5)]
    [InlineData(5, 5, 9, 9)]
    public void UpsampleToOddSizeIsNearestInterpolation(int h, int w, int oh, int ow)
    {
        using var scope = TensorScope.Enter();
        const int c = 2;
        var up = new Upsample2D(c, new Generator(0));
        var weight = up.StateDict()["conv.weight"];
        weight.Fill(0);
        for (int i = 0; i < c; i++) weight[i, i, 1, 1] = 1;
        up.StateDict()["conv.bias"].Fill(0);
        var x = Tensor.RandN(new Generator(1), 1, c, h, w);
        var pass = new UNetPass(Tensor.Zeros(1, 1), Tensor.Zeros(1, 1, 1), null, null);
        var y = up.Forward(x, (oh, ow), pass);
        Assert.Equal([1, c, oh, ow], y.Shape);
        for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++)
                {
                    // PyTorch nearest: src = min(floor(dst · (in/out)), in − 1), the scale in float
                    int si = Math.Min((int)MathF.Floor(i * ((float)h / oh)), h - 1), sj = Math.Min((int)MathF.Floor(j * ((float)w / ow)), w - 1);
                    Assert.Equal(x[0, ch, si, sj], y[0, ch, i, j]);
                }
    }
}

public class UpsampleConvTests
{
    [Theory]
    [InlineData(1, 3, 5, 4, 4)]
    [InlineData(2, 8, 6, 5, 7)]
    [InlineData(2, 16, 16, 16, 16)]
    public void FourPhaseConvEqualsUpsampleThenConv(int n, int c, int o, int h, int w)
    {
        using var scope = TensorScope.Enter();
        var g = new Generator(11);
        var x = Tensor.RandN(g, n, c, h, w);
        var weight = Tensor.RandN(g, o, c, 3, 3);
        var bias = Tensor.RandN(g, o);
        var pass = new UNetPass(Tensor.Zeros(1, 1), Tensor.Zeros(1, 1, 1), null, null);
        var expected = Ops.Conv2d(Ops.UpsampleNearest2x(x), weight, bias, 1, 1);
        var actual = UpsampleConv.Forward(x, weight, bias, pass);
        TinyUNet.Near(expected, actual, 2e-5 * Math.Sqrt(9 * c), "four-phase conv");
    }

    [Fact]
    public void Upsample2DTakesTheFourPhasePathOnlyInInference()
    {
        using var scope = TensorScope.Enter();
        var up = new Upsample2D(8, new Generator(2));
        var x = Tensor.RandN(new Generator(3), 2, 8, 16, 18);
        var recorded = up.Forward(x.RequireGrad(), null, new UNetPass(Tensor.Zeros(1, 1), Tensor.Zeros(1, 1, 1), null, null));
        Assert.True(recorded.RequiresGrad);
        Tensor inference;
        using (GradMode.NoGrad()) inference = up.Forward(x, null, new UNetPass(Tensor.Zeros(1, 1), Tensor.Zeros(1, 1, 1), null, null));
        Assert.Equal([2, 8, 32, 36], inference.Shape);
        TinyUNet.Near(recorded, inference, 1e-5, "upsampler inference vs autograd");
    }
}
