using System.Text.Json.Nodes;
using Deja.Diffusion.IO;
using Deja.Tensors;

namespace Deja.Diffusion.Tests.IO;

public class PipelineFolderTests
{
    /// <summary>A writable copy of a tiny pipeline to break in various ways.</summary>
    static string CopyPipeline(TempDir dir, string name = "tiny-sd1")
    {
        var source = TestData.Golden(name);
        var target = Path.Combine(dir.Path, name);
        foreach (var file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
        {
            var to = Path.Combine(target, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            File.Copy(file, to);
        }
        return target;
    }

    static void EditJson(string path, Action<JsonObject> edit)
    {
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(json);
        File.WriteAllText(path, json.ToJsonString());
    }

    static string OpenFails(string dir, string? variant = null)
    {
        var e = Assert.Throws<DejaException>(() => PipelineFolder.Open(dir, variant));
        Assert.Contains("is not a usable Stable Diffusion pipeline folder", e.Message);
        return e.Message;
    }

    [Theory]
    [InlineData("tiny-sd1", 32, "epsilon")]
    [InlineData("tiny-sd2", 16, "v_prediction")]
    public void TinyPipelinesOpen(string name, int hidden, string prediction)
    {
        var p = PipelineFolder.Open(TestData.Golden(name));
        Assert.Equal(hidden, p.TextEncoderConfig.HiddenSize);
        Assert.Equal(hidden, p.UNetConfig.CrossAttentionDim[0]);
        Assert.Equal(prediction, p.SchedulerConfig.PredictionType);
        Assert.Equal(4, p.VaeConfig!.LatentChannels);
        Assert.Equal(TestData.Golden(name, "unet", "diffusion_pytorch_model.safetensors"), p.UNetWeights);
        Assert.Equal(TestData.Golden(name, "vae", "diffusion_pytorch_model.safetensors"), p.VaeWeights);
        Assert.Equal(TestData.Golden(name, "text_encoder", "model.safetensors"), p.TextEncoderWeights);
        Assert.Equal(TestData.Golden(name, "tokenizer", "vocab.json"), p.Tokenizer.VocabJson);
        Assert.Equal(TestData.Golden(name, "tokenizer", "merges.txt"), p.Tokenizer.MergesTxt);
        Assert.NotNull(p.Tokenizer.TokenizerConfigJson);
        Assert.NotNull(p.Tokenizer.SpecialTokensMapJson);
        Assert.Equal("CLIPTokenizer", p.ModelIndex.Components["tokenizer"].ClassName);
    }

    [Fact]
    public void Fp16VariantWeightsAreFoundAndWidened()
    {
        using var dir = new TempDir();
        var root = CopyPipeline(dir);
        var unet = Path.Combine(root, "unet", "diffusion_pytorch_model.safetensors");
        var fp16 = Path.Combine(root, "unet", "diffusion_pytorch_model.fp16.safetensors");
        using (var file = SafeTensorsFile.Open(unet))
        {
            var all = file.ReadTensors();
            SafeTensorsWriter.Write(fp16, all.Select(kv => (kv.Key, kv.Value)), file.Metadata.ToDictionary(), SafeTensorsDType.F16);
            foreach (var t in all.Values) t.Dispose();
        }

        Assert.Equal(unet, PipelineFolder.Open(root).UNetWeights);               // plain name preferred
        Assert.Equal(fp16, PipelineFolder.Open(root, "fp16").UNetWeights);       // unless the variant is asked for
        File.Delete(unet);
        Assert.Equal(fp16, PipelineFolder.Open(root).UNetWeights);               // fallback

        using var half = SafeTensorsFile.Open(fp16);
        using var original = SafeTensorsFile.Open(TestData.Golden("tiny-sd1", "unet", "diffusion_pytorch_model.safetensors"));
        const string key = "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight";
        Assert.Equal(SafeTensorsDType.F16, half.Entry(key).DType);
        using var a = half.ReadTensor(key);
        using var b = original.ReadTensor(key);
        Assert.Equal(b.ToArray().Select(v => (float)(Half)v), a.ToArray());
    }

    [Fact]
    public void MissingComponentFolder()
    {
        using var dir = new TempDir();
        var root = CopyPipeline(dir);
        Directory.Delete(Path.Combine(root, "unet"), recursive: true);
        var m = OpenFails(root);
        Assert.Contains("the unet/ folder is missing", m);
    }

    [Fact]
    public void MissingWeightsAndTokenizerFile()
    {
        using var dir = new TempDir();
        var root = CopyPipeline(dir);
        File.Delete(Path.Combine(root, "vae", "diffusion_pytorch_model.safetensors"));
        File.Delete(Path.Combine(root, "tokenizer", "merges.txt"));
        var m = OpenFails(root);
        Assert.Contains("(2 problems)", m);
        Assert.Contains("vae/: the weights file is missing: expected vae/diffusion_pytorch_model.safetensors (or diffusion_pytorch_model.fp16.safetensors)", m);
        Assert.Contains("tokenizer/merges.txt is missing: the CLIP tokenizer needs vocab.json and merges.txt", m);
    }

    [Fact]
    public void PickleOnlyWeightsAreRefusedWithAHint()
    {
        using var dir = new TempDir();
        var root = CopyPipeline(dir);
        var te = Path.Combine(root, "text_encoder");
        File.Move(Path.Combine(te, "model.safetensors"), Path.Combine(te, "pytorch_model.bin"));
        var m = OpenFails(root);
        Assert.Contains("text_encoder/: only PyTorch pickle weights found (pytorch_model.bin); Deja reads safetensors only and expected text_encoder/model.safetensors", m);
    }

    [Fact]
    public void UnknownBlockTypeSchedulerAndPredictionTypeInOneMessage()
    {
        using var dir = new TempDir();
        var root = CopyPipeline(dir);
        EditJson(Path.Combine(root, "unet", "config.json"), j => j["down_block_types"] = new JsonArray("AttnDownBlock2D", "DownBlock2D"));
        EditJson(Path.Combine(root, "scheduler", "scheduler_config.json"), j =>
        {
            j["_class_name"] = "FancyScheduler";
            j["prediction_type"] = "sample";
        });
        EditJson(Path.Combine(root, "model_index.json"), j => j["scheduler"] = new JsonArray("diffusers", "FancyScheduler"));
        var m = OpenFails(root);
        Assert.Contains("down_block_types[0] 'AttnDownBlock2D' is not supported (supported: CrossAttnDownBlock2D, DownBlock2D)", m);
        Assert.Contains("scheduler class 'FancyScheduler' is not supported", m);
        Assert.Contains("component 'scheduler' is diffusers/FancyScheduler, which is not supported", m);
        Assert.Contains("prediction_type 'sample' is not supported (supported: epsilon, v_prediction)", m);
        Assert.Contains("(4 problems)", m);
    }

    [Fact]
    public void ModelIndexProblems()
    {
        using var dir = new TempDir();
        var root = CopyPipeline(dir);
        EditJson(Path.Combine(root, "model_index.json"), j =>
        {
            j["unet"] = new JsonArray("diffusers", "UNet2DModel");
            j["vae"] = new JsonArray(null, null);
            j.Remove("tokenizer");
        });
        var m = OpenFails(root);
        Assert.Contains("component 'unet' is diffusers/UNet2DModel, which is not supported (supported: diffusers/UNet2DConditionModel)", m);
        Assert.Contains("component 'vae' is [null, null]", m);
        Assert.Contains("no 'tokenizer' component", m);

        File.Delete(Path.Combine(root, "model_index.json"));
        Assert.Contains("model_index.json is missing", OpenFails(root));
    }

    [Fact]
    public void MismatchedComponentsAndCorruptWeights()
    {
        using var dir = new TempDir();
        var root = CopyPipeline(dir);
        EditJson(Path.Combine(root, "text_encoder", "config.json"), j => j["hidden_size"] = 64);
        var vae = Path.Combine(root, "vae", "diffusion_pytorch_model.safetensors");
        File.WriteAllBytes(vae, File.ReadAllBytes(vae)[..^1000]);
        var m = OpenFails(root);
        Assert.Contains("unet/config.json: cross_attention_dim 32 does not match the text encoder's hidden_size 64 in text_encoder/config.json", m);
        Assert.Contains("diffusion_pytorch_model.safetensors': the file is truncated", m);
    }

    /// <summary>
    /// Issue 12 §5: a missing config field used to take the library default and surface as a count mismatch
    /// or a list of 128 missing tensors at load. Fields that fix the weight shapes are now required by name.
    /// </summary>
    [Theory]
    [InlineData("text_encoder/config.json", "num_hidden_layers")]
    [InlineData("text_encoder/config.json", "hidden_size")]
    [InlineData("unet/config.json", "block_out_channels")]
    [InlineData("unet/config.json", "layers_per_block")]
    [InlineData("vae/config.json", "latent_channels")]
    [InlineData("scheduler/scheduler_config.json", "num_train_timesteps")]
    public void MissingShapeFieldIsNamed(string config, string field)
    {
        using var dir = new TempDir();
        var root = CopyPipeline(dir);
        EditJson(Path.Combine(root, config), j => j.Remove(field));
        var m = OpenFails(root);
        Assert.Contains($"{config}: required field '{field}' is missing", m);
        Assert.DoesNotContain("missing tensor", m);
    }

    [Fact]
    public void UNetHeadCountMayBeGivenEitherWay()
    {
        using var dir = new TempDir();
        var root = CopyPipeline(dir);
        EditJson(Path.Combine(root, "unet", "config.json"), j => { j.Remove("attention_head_dim"); j.Remove("num_attention_heads"); });
        Assert.Contains("required field 'attention_head_dim' is missing", OpenFails(root));
        EditJson(Path.Combine(root, "unet", "config.json"), j => j["num_attention_heads"] = 8);
        PipelineFolder.Open(root);
    }

    /// <summary>A config describing far more parameters than its weights file holds is refused before any model is built.</summary>
    [Fact]
    public void ConfigLargerThanItsWeightsIsRefusedBeforeBuilding()
    {
        using var dir = new TempDir();
        var root = CopyPipeline(dir);
        EditJson(Path.Combine(root, "text_encoder", "config.json"), j => { j["vocab_size"] = 1_000_000_000; j["num_hidden_layers"] = 200; });
        long before = GC.GetAllocatedBytesForCurrentThread();
        var m = OpenFails(root);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64 << 20, "the check allocated like a model");
        Assert.Contains("text_encoder/config.json describes a model of more than", m);
        Assert.Contains("the config does not belong to these weights", m);
    }

    /// <summary>Fuzzing (unet-config, seed 1, input 118): downsample_padding 2 opened cleanly, then the load threw ArgumentException.</summary>
    [Theory]
    [InlineData("downsample_padding", 2)]
    [InlineData("mid_block_scale_factor", 2)]
    [InlineData("resnet_out_scale_factor", 0.5)]
    public void UNetSettingsTheModelCannotBuildAreReportedWhenTheFolderOpens(string field, double value)
    {
        using var dir = new TempDir();
        var root = CopyPipeline(dir);
        EditJson(Path.Combine(root, "unet", "config.json"), j => j[field] = value);
        Assert.Contains($"{field} {value.ToString(System.Globalization.CultureInfo.InvariantCulture)} is not supported", OpenFails(root));
    }

    /// <summary>Fuzzing (scheduler-config, seed 1, inputs 1071 and 1249): num_train_timesteps 10^6 made a 350-byte config allocate 20 MB.</summary>
    [Theory]
    [InlineData("num_train_timesteps", 1_000_000, "num_train_timesteps 1000000 must be between 1 and 100000")]
    [InlineData("steps_offset", 5000, "steps_offset 5000 must be between 0 and num_train_timesteps")]
    [InlineData("steps_offset", -1, "steps_offset -1 must be between 0 and num_train_timesteps")]
    public void ImplausibleScheduleSettingsAreRefused(string field, int value, string expected)
    {
        using var dir = new TempDir();
        var root = CopyPipeline(dir);
        EditJson(Path.Combine(root, "scheduler", "scheduler_config.json"), j => j[field] = value);
        Assert.Contains(expected, OpenFails(root));
    }

    [Fact]
    public void MissingFolder()
    {
        using var dir = new TempDir();
        Assert.Contains("the folder does not exist", OpenFails(Path.Combine(dir.Path, "nothing-here")));
    }
}
